"""Engine benchmark: the framework's cost of a tool-chat turn, against baselines in the same run.

Run with ``.venv/bin/python benchmarks/engine_bench.py`` (``--quick`` for a short run).

1. **Offline turn.** One turn of the tool-chat engine: two model calls (the
   first asks for one tool, the second answers) and one tool call, on an
   offline model that answers at once. The baseline does the same work with
   no framework: it calls the same reply function twice, parses the arguments
   and calls the same tool. Framework time is the difference (target <= 250 us).
   Measured with a sync tool (run in a worker thread, as the engine does for
   sync tools) and an async one, and with a JSONL log on.
2. **HTTP turn.** The same turn against a local Chat Completions server in a
   process of its own (``benchmarks/chat_server.py``), through the engine,
   against the bare ``openai`` SDK making the same two calls (same messages,
   same tools) and calling the tool itself. The engine's overhead is reported
   next to the run-to-run spread of the baseline.

Each case runs in several rounds; medians are reported.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from llmgine.bus.bus import MessageBus
from llmgine.engines import ToolChatEngine
from llmgine.observability.file import FileEventHandler
from llmgine.testing import FunctionModel
from llmgine.tools import ToolCall, tool

TARGET_US = 250.0


@tool
def get_weather(city: str) -> str:
    """Weather for a city.

    Args:
        city: The city.
    """
    return f"{city}: 17 C"


@tool
async def get_weather_async(city: str) -> str:
    """Weather for a city.

    Args:
        city: The city.
    """
    return f"{city}: 17 C"


def _reply(tool_name: str) -> Callable[[list[dict[str, Any]], Any], Any]:
    def reply(messages: list[dict[str, Any]], info: Any) -> Any:
        if messages[-1]["role"] == "tool":
            return "It is 17 C in Perth."
        return ToolCall("call_1", tool_name, '{"city": "Perth"}')

    return reply


async def _timed(turn: Callable[[], Awaitable[Any]], turns: int) -> float:
    """Median microseconds per turn over ``turns`` turns (after a warm-up)."""
    for _ in range(max(5, turns // 20)):
        await turn()
    samples = []
    for _ in range(turns):
        start = time.perf_counter()
        await turn()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples) * 1e6


async def offline(rounds: int, turns: int) -> list[dict[str, Any]]:
    """The offline tool-chat turn, framework time against a bare loop."""
    bus = MessageBus()
    await bus.reset()
    await bus.start()
    results = []
    for label, function, sync in (
        ("sync tool (worker thread)", get_weather, True),
        ("async tool", get_weather_async, False),
    ):
        reply = _reply(function.__name__)

        async def bare(reply: Any = reply, function: Any = function, sync: bool = sync) -> None:
            messages = [{"role": "user", "content": "Weather in Perth?"}]
            call = reply(messages, None)
            arguments = json.loads(call.arguments)
            if sync:
                value = await asyncio.to_thread(function, **arguments)
            else:
                value = await function(**arguments)
            messages += [{"role": "tool", "content": value}]
            reply(messages, None)

        engine = ToolChatEngine(model=FunctionModel(reply), tools=[function], session_id="bench")

        async def turn(engine: ToolChatEngine = engine) -> None:
            engine.clear_context()
            result = await engine.execute("Weather in Perth?")
            assert result.success, result.error

        base = statistics.median([await _timed(bare, turns) for _ in range(rounds)])
        full = statistics.median([await _timed(turn, turns) for _ in range(rounds)])
        results.append({"case": label, "turn_us": full, "baseline_us": base})

    # Everything built and logged: the cost of observing a run.
    log_dir = tempfile.mkdtemp(prefix="llmgine-bench-")
    handler = FileEventHandler(log_dir)
    bus.register_observability_handler(handler)
    engine = ToolChatEngine(
        model=FunctionModel(_reply("get_weather_async")), tools=[get_weather_async], session_id="b"
    )

    async def logged() -> None:
        engine.clear_context()
        assert (await engine.execute("Weather in Perth?")).success

    full = statistics.median([await _timed(logged, turns) for _ in range(rounds)])
    results.append(
        {
            "case": "async tool, JSONL log on",
            "turn_us": full,
            "baseline_us": results[1]["baseline_us"],
        }
    )
    bus.unregister_observability_handler(handler)
    handler.close()
    await bus.reset()
    return results


def http(rounds: int, turns: int) -> dict[str, Any]:
    """The HTTP turn through the engine, against the bare SDK's two calls."""
    server = subprocess.Popen(
        [sys.executable, str(Path(__file__).with_name("chat_server.py"))],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None
        base_url = f"http://127.0.0.1:{server.stdout.readline().strip()}/v1"
        return asyncio.run(_http_turns(base_url, rounds, turns))
    finally:
        server.terminate()
        server.wait(timeout=30)


async def _http_turns(base_url: str, rounds: int, turns: int) -> dict[str, Any]:
    import openai

    bus = MessageBus()
    await bus.reset()
    await bus.start()
    client = openai.AsyncOpenAI(api_key="sk-bench", base_url=base_url, max_retries=0)
    engine = ToolChatEngine(
        model=f"openai-compatible:gpt-4.1-mini@{base_url}",
        tools=[get_weather_async],
        session_id="bench",
    )
    await engine.register_tools(get_weather_async)
    tools = await engine.tool_manager.get_tools()

    async def bare() -> None:
        # What the engine sends, made by hand: the system prompt, the same tools.
        messages: list[Any] = [
            {"role": "system", "content": engine.system_prompt},
            {"role": "user", "content": "Weather in Perth?"},
        ]
        first = await client.chat.completions.create(
            model="gpt-4.1-mini", messages=messages, tools=tools
        )
        call = first.choices[0].message.tool_calls[0]
        value = await get_weather_async(**json.loads(call.function.arguments))
        messages += [
            first.choices[0].message.model_dump(exclude_none=True),
            {"role": "tool", "tool_call_id": call.id, "content": value},
        ]
        await client.chat.completions.create(model="gpt-4.1-mini", messages=messages, tools=tools)

    async def turn() -> None:
        engine.clear_context()
        assert (await engine.execute("Weather in Perth?")).success

    bases, fulls = [], []
    for _ in range(rounds):  # interleaved, so drifts of the machine hit both alike
        bases.append(await _timed(bare, turns))
        fulls.append(await _timed(turn, turns))
    await client.close()
    await engine.model.aclose()
    await bus.reset()
    return {
        "turn_us": statistics.median(fulls),
        "baseline_us": statistics.median(bases),
        "baseline_spread_us": max(bases) - min(bases),
    }


def main() -> None:
    """Run the cases and print a table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer turns (a smoke run)")
    args = parser.parse_args()
    rounds, turns, http_turns = (2, 50, 10) if args.quick else (5, 400, 60)
    print(f"Python {sys.version.split()[0]}; medians of {rounds} rounds")
    print()
    print(f"{'offline tool-chat turn':34} {'turn':>10} {'baseline':>10} {'framework':>10}")
    for row in asyncio.run(offline(rounds, turns)):
        framework = row["turn_us"] - row["baseline_us"]
        mark = "" if framework <= TARGET_US or "log" in row["case"] else "  (over target)"
        print(
            f"{row['case']:34} {row['turn_us']:8.0f}us {row['baseline_us']:8.0f}us "
            f"{framework:8.0f}us{mark}"
        )
    print(f"target: framework time <= {TARGET_US:.0f} us without a log")
    print()
    row = http(rounds, http_turns)
    overhead = row["turn_us"] - row["baseline_us"]
    print(f"{'HTTP tool-chat turn (2 calls)':34} {'turn':>10} {'bare SDK':>10} {'overhead':>10}")
    print(
        f"{'engine vs bare openai SDK':34} {row['turn_us']:8.0f}us {row['baseline_us']:8.0f}us "
        f"{overhead:8.0f}us  (ratio {row['turn_us'] / row['baseline_us']:.2f}x; baseline "
        f"spread {row['baseline_spread_us']:.0f}us)"
    )


if __name__ == "__main__":
    main()
