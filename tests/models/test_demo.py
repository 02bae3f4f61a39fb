"""The offline demo model: tools and arguments from the user's words, answers labelled."""

import json
from typing import Literal

import pytest
from pydantic import BaseModel

from llmgine import ToolCall, ToolManager, Usage, get_model, tool
from llmgine.engines import ToolChatEngine
from llmgine.models.demo import LABEL, DemoModel


@tool
def get_weather(city: str, unit: str = "celsius") -> str:
    """Get today's weather for a city.

    Args:
        city: Name of the city.
        unit: Temperature unit (celsius or fahrenheit).
    """
    return f"{city}: sunny, 21 {unit}"


@tool
def get_forecast(city: str, days: int = 3) -> list[str]:
    """Get a day-by-day forecast for a city.

    Args:
        city: Name of the city.
        days: How many days ahead (1 to 7).
    """
    return [f"day {n}: sunny in {city}" for n in range(1, days + 1)]


@tool
def search_notes(query: str) -> str:
    """Search the user's notes.

    Args:
        query: What to look for.
    """
    return f"2 notes about {query}"


async def tools_for(*functions: object) -> list[dict]:
    manager = ToolManager()
    await manager.register_tools(list(functions))
    return await manager.get_tools()


async def first_calls(prompt: str, *functions: object) -> list[ToolCall]:
    response = await DemoModel().generate(prompt, tools=await tools_for(*functions))
    return response.tool_calls


def test_get_model_names_it_and_it_is_free() -> None:
    model = get_model("demo")
    assert isinstance(model.wrapped, DemoModel)  # type: ignore[attr-defined]
    assert model.model_string == "demo"
    assert model.price(Usage(prompt_tokens=9, completion_tokens=3)) == 0.0


@pytest.mark.parametrize(
    ("prompt", "city"),
    [
        ("What's the weather in Perth?", "Perth"),
        ("weather in new york today", "New York"),
        ("How is the weather for St. Kilda this weekend", "St. Kilda"),
        ("In Paris, what is the weather like?", "Paris"),
        ("is the weather nice in the city of london", "London"),
    ],
)
async def test_the_city_comes_from_the_message(prompt: str, city: str) -> None:
    (call,) = await first_calls(prompt, get_weather, get_forecast)
    assert call.name == "get_weather"
    assert json.loads(call.arguments) == {"city": city}


async def test_enum_values_and_numbers_the_message_names_are_used() -> None:
    @tool
    def weather(city: str, unit: Literal["celsius", "fahrenheit"] = "celsius") -> str:
        """Get the weather of a city.

        Args:
            city: The city.
            unit: Temperature unit.
        """
        return city

    (call,) = await first_calls("weather in Perth in Fahrenheit please", weather)
    assert json.loads(call.arguments) == {"city": "Perth", "unit": "fahrenheit"}
    (call,) = await first_calls("a 5 day forecast for Oslo", get_weather, get_forecast)
    assert call.name == "get_forecast"
    assert json.loads(call.arguments) == {"city": "Oslo", "days": 5}
    (call,) = await first_calls("forecast for Oslo for 30 days", get_forecast)
    assert json.loads(call.arguments)["days"] == 30  # no maximum in this schema


async def test_numbers_are_kept_within_the_schema_bounds() -> None:
    from typing import Annotated

    from pydantic import Field

    @tool
    def forecast(city: str, days: Annotated[int, Field(ge=1, le=7)] = 3) -> str:
        """Forecast for a city.

        Args:
            city: The city.
            days: Days ahead.
        """
        return city

    (call,) = await first_calls("forecast for 30 days in Rome", forecast)
    assert json.loads(call.arguments) == {"city": "Rome", "days": 7}


async def test_a_required_string_gets_quoted_text_or_the_message() -> None:
    (call,) = await first_calls('search my notes for "tax return"', search_notes)
    assert json.loads(call.arguments) == {"query": "tax return"}
    (call,) = await first_calls("search notes about holidays", search_notes)
    assert json.loads(call.arguments) == {"query": "search notes about holidays"}


async def test_a_missing_place_is_asked_for_instead_of_invented() -> None:
    response = await DemoModel().generate("What's the weather?", tools=await tools_for(get_weather))
    assert response.tool_calls == []
    assert response.content.startswith(LABEL)
    assert "get_weather" in response.content and "Perth" in response.content


async def test_unrelated_messages_call_no_tool_and_say_what_the_model_is() -> None:
    response = await DemoModel().generate("hello there", tools=await tools_for(get_weather))
    assert response.tool_calls == []
    assert response.content.startswith(f"{LABEL} This answer comes from LLMgine's offline demo")
    assert "OPENAI_API_KEY" in response.content and "get_weather" in response.content
    plain = await DemoModel().generate("Translate: good morning")
    assert 'You said: "Translate: good morning".' in plain.content


async def test_tool_choice_none_and_forced_tools_are_honoured() -> None:
    tools = await tools_for(get_weather, get_forecast)
    none = await DemoModel().generate("weather in Perth", tools=tools, tool_choice="none")
    assert none.tool_calls == []
    forced = await DemoModel().generate(
        "weather in Perth",
        tools=tools,
        tool_choice={"type": "function", "function": {"name": "get_forecast"}},
    )
    assert [call.name for call in forced.tool_calls] == ["get_forecast"]


async def test_a_whole_turn_reports_the_tool_results(bus) -> None:
    engine = ToolChatEngine(model="demo", tools=[get_weather, get_forecast], stream=True)
    result = await engine.execute("Weather and forecast for Perth")
    assert result.success, result.error
    assert result.result.startswith(f"{LABEL} The tools said:\n")
    assert "- get_weather: Perth: sunny, 21 celsius" in result.result
    assert "- get_forecast: day 1: sunny in Perth; day 2: sunny in Perth" in result.result


async def test_structured_output_is_valid() -> None:
    class City(BaseModel):
        name: str
        population: int

    city = await DemoModel().generate("Largest city?", response_model=City)
    assert isinstance(city, City)
