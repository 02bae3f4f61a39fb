"""The example tools in tools/ register and run through a ToolManager."""

import json
from pathlib import Path

from llmgine.bus.bus import MessageBus
from llmgine.tools import ToolCall, ToolManager

ROOT = Path(__file__).resolve().parents[2]


async def test_weather_tools_register_from_their_file_and_run(bus: MessageBus) -> None:
    manager = ToolManager("demo", "s")
    await manager.register_tools(str(ROOT / "tools" / "weather.py"))
    assert manager.tool_names == ["get_weather", "get_forecast"]
    schema = (await manager.get_tools())[0]["function"]["parameters"]
    assert schema["properties"]["unit"]["enum"] == ["celsius", "fahrenheit"]
    assert schema["required"] == ["city"]

    weather = await manager.execute_tool_call(
        ToolCall(id="1", name="get_weather", arguments='{"city": "Perth"}')
    )
    assert weather.content.startswith("Perth: ") and "°C" in weather.content
    forecast = await manager.execute_tool_call(
        ToolCall(id="2", name="get_forecast", arguments='{"city": "Perth", "days": 2}')
    )
    assert len(json.loads(forecast.content)) == 2
    bad = await manager.execute_tool_call(
        ToolCall(id="3", name="get_forecast", arguments='{"city": "Perth", "days": 9}')
    )
    assert bad.is_error and "between 1 and 7" in bad.content
