"""Engines from a plain script: one ``await`` per answer, no bus or CLI set-up.

python programs/engines/script_example.py                  # the offline test model
python programs/engines/script_example.py --model openai:gpt-4.1-mini
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from llmgine import LLMgineError
from llmgine.engines import use_single_pass_engine, use_tool_chat_engine

# A .py file of @tool functions (a module path such as "tools.weather" works too).
WEATHER_TOOLS = str(Path(__file__).resolve().parents[2] / "tools" / "weather.py")


async def run(model: str) -> None:
    # One model call: a system prompt and a prompt.
    answer = await use_single_pass_engine(
        "Translate 'good morning' into French.", model=model, system_prompt="Be brief."
    )
    print(f"single pass: {answer}")

    # The function-calling loop: the model may call get_weather / get_forecast.
    answer = await use_tool_chat_engine(
        "What's the weather in Perth today?", model=model, tools=[WEATHER_TOOLS]
    )
    print(f"tool chat: {answer}")


def main() -> None:
    parser = argparse.ArgumentParser(description="Engine functions from a script.")
    parser.add_argument("--model", default="test", help="provider:model (default: test)")
    args = parser.parse_args()
    try:
        asyncio.run(run(args.model))
    except LLMgineError as exc:  # unknown model, missing API key, provider down...
        sys.exit(f"error: {exc}")


if __name__ == "__main__":
    main()
