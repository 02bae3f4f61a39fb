"""Message bus benchmark: each case as a ratio to a raw asyncio baseline from the same run.

Run with ``make bench`` (or ``.venv/bin/python benchmarks/bus_bench.py``).

The baseline is the cheapest honest way to hand a message to another piece
of code and wait for it to be handled: an ``asyncio.Queue`` with a consumer
task, one future per round trip. Each case is timed in several rounds and
the best round is kept (the least disturbed by other load on the machine).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import gc
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from llmgine import Command, CommandResult, Event, FileEventHandler, MessageBus, ScheduledEvent


class BenchEvent(Event):
    value: int = 0


class BenchCommand(Command):
    value: int = 0


class BenchTick(ScheduledEvent):
    pass


@dataclass
class Row:
    case: str
    rate: float  # operations per second
    ratio: float  # rate / baseline rate
    detail: str
    target: str
    ok: bool | None


async def _best_rate(run: Callable[[int], Awaitable[None]], n: int, rounds: int) -> float:
    await run(max(n // 10, 100))  # warm-up
    best = 0.0
    for _ in range(rounds):
        gc.collect()
        start = time.perf_counter()
        await run(n)
        elapsed = time.perf_counter() - start
        best = max(best, n / elapsed)
    return best


async def baseline(n: int, rounds: int) -> float:
    """asyncio.Queue + consumer task: put a message, await its handling."""
    queue: asyncio.Queue[tuple[object, asyncio.Future[None]]] = asyncio.Queue()
    loop = asyncio.get_running_loop()

    async def handler(message: object) -> None:
        return None

    async def consumer() -> None:
        while True:
            message, done = await queue.get()
            await handler(message)
            done.set_result(None)

    task = asyncio.create_task(consumer())

    async def run(count: int) -> None:
        for i in range(count):
            done = loop.create_future()
            queue.put_nowait((i, done))
            await done

    try:
        return await _best_rate(run, n, rounds)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def publish_rate(bus: MessageBus, handlers: int, n: int, rounds: int) -> float:
    await bus.reset()

    async def handler(event: BenchEvent) -> None:
        return None

    for _ in range(handlers):
        bus.register_event_handler(BenchEvent, handler)
    await bus.start()

    async def run(count: int) -> None:
        publish = bus.publish
        for i in range(count):
            await publish(BenchEvent(value=i))

    return await _best_rate(run, n, rounds)


async def command_stats(bus: MessageBus, n: int, rounds: int) -> tuple[float, float, float]:
    await bus.reset()

    async def handler(command: BenchCommand) -> CommandResult:
        return CommandResult(success=True, result=command.value)

    bus.register_command_handler(BenchCommand, handler)
    await bus.start()

    async def run(count: int) -> None:
        execute = bus.execute
        for i in range(count):
            await execute(BenchCommand(value=i))

    rate = await _best_rate(run, n, rounds)
    samples: list[int] = []
    clock = time.perf_counter_ns
    gc.collect()
    for i in range(n):
        start = clock()
        await bus.execute(BenchCommand(value=i))
        samples.append(clock() - start)
    samples.sort()
    p50 = samples[len(samples) // 2] / 1000
    p99 = samples[int(len(samples) * 0.99)] / 1000
    return rate, p50, p99


async def scheduled_lateness(bus: MessageBus, count: int) -> tuple[float, float, float]:
    await bus.reset()
    lateness: list[float] = []
    finished = asyncio.get_running_loop().create_future()

    def on_tick(event: BenchTick) -> None:
        now = dt.datetime.now(dt.UTC)
        lateness.append((now - event.scheduled_time).total_seconds() * 1000)
        if len(lateness) == count and not finished.done():
            finished.set_result(None)

    bus.register_event_handler(BenchTick, on_tick)
    await bus.start()
    base = dt.datetime.now(dt.UTC) + dt.timedelta(milliseconds=50)
    for i in range(count):
        await bus.publish(BenchTick(scheduled_time=base + dt.timedelta(milliseconds=5 * i)))
    await asyncio.wait_for(finished, timeout=60)
    lateness.sort()
    return (
        statistics.median(lateness),
        lateness[min(len(lateness) - 1, int(len(lateness) * 0.99))],
        min(lateness),
    )


async def jsonl_rate(bus: MessageBus, n: int, rounds: int, log_dir: Path) -> float:
    await bus.reset()

    async def handler(event: BenchEvent) -> None:
        return None

    bus.register_event_handler(BenchEvent, handler)
    file_handler = FileEventHandler(log_dir=log_dir, filename="bench.jsonl")
    bus.register_observability_handler(file_handler)
    await bus.start()

    async def run(count: int) -> None:
        publish = bus.publish
        for i in range(count):
            await publish(BenchEvent(value=i))
        file_handler.flush()

    try:
        return await _best_rate(run, n, rounds)
    finally:
        file_handler.close()


def _status(ok: bool | None) -> str:
    return "-" if ok is None else ("ok" if ok else "MISSED")


async def main(n: int, rounds: int) -> list[Row]:
    bus = MessageBus()
    rows: list[Row] = []
    with tempfile.TemporaryDirectory() as tmp:
        bus.data_dir = Path(tmp)
        base = await baseline(n, rounds)
        rows.append(Row("baseline: asyncio.Queue + consumer task", base, 1.0, "", "", None))

        rate = await publish_rate(bus, 1, n, rounds)
        rows.append(
            Row("publish-and-await, 1 handler", rate, rate / base, "", ">= 2x", rate / base >= 2)
        )

        rate = await publish_rate(bus, 10, n, rounds)
        rows.append(
            Row("fan-out to 10 handlers", rate, rate / base, "", ">= 1.5x", rate / base >= 1.5)
        )

        rate, p50, p99 = await command_stats(bus, n, rounds)
        rows.append(
            Row(
                "command round trip",
                rate,
                rate / base,
                f"p50 {p50:.1f} us, p99 {p99:.1f} us",
                ">= 1.5x, p99 < 15 us",
                rate / base >= 1.5 and p99 < 15,
            )
        )

        plain = await publish_rate(bus, 1, n, rounds)
        logged = await jsonl_rate(bus, n, rounds, Path(tmp) / "logs")
        rows.append(
            Row(
                "publish with JSONL handler",
                logged,
                logged / base,
                f"{logged / plain:.0%} of the same run without it",
                ">= 50% of without",
                logged / plain >= 0.5,
            )
        )

        p50_ms, p99_ms, min_ms = await scheduled_lateness(bus, 200)
        rows.append(
            Row(
                "scheduled event lateness (200 events)",
                0.0,
                0.0,
                f"p50 {p50_ms:.2f} ms, p99 {p99_ms:.2f} ms, earliest {min_ms:+.2f} ms",
                "p99 < 5 ms, never early",
                p99_ms < 5 and min_ms >= 0,
            )
        )
        await bus.reset()
    return rows


def render(rows: list[Row]) -> str:
    lines = [
        f"Python {sys.version.split()[0]}, {time.strftime('%Y-%m-%d')}",
        f"{'case':<42} {'ops/s':>10} {'ratio':>7}  {'target':<24} {'':<7} detail",
    ]
    for row in rows:
        rate = f"{row.rate:,.0f}" if row.rate else ""
        ratio = f"{row.ratio:.2f}x" if row.ratio else ""
        status = _status(row.ok)
        lines.append(
            f"{row.case:<42} {rate:>10} {ratio:>7}  {row.target:<24} {status:<7} {row.detail}"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=20_000, help="operations per round")
    parser.add_argument("--rounds", type=int, default=5, help="rounds per case (best kept)")
    args = parser.parse_args()
    print(render(asyncio.run(main(args.n, args.rounds))))
