"""Message bus benchmark: each case as a ratio to a raw asyncio baseline from the same run.

Run with ``make bench`` (or ``.venv/bin/python benchmarks/bus_bench.py``).

The baseline is the cheapest honest way to hand a message to another piece
of code and wait for it to be handled: an ``asyncio.Queue`` with a consumer
task, one future per round trip. Each case is timed in several rounds, each
one right after a round of the baseline, and the best round of each is kept
(the least disturbed by other load on the machine): a case's ratio is to the
baseline timed beside it, so a machine that drifts between cases moves both.
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


Run = Callable[[int], Awaitable[None]]


async def _timed(run: Run, n: int) -> float:
    gc.collect()
    start = time.perf_counter()
    await run(n)
    return n / (time.perf_counter() - start)


class Baseline:
    """asyncio.Queue + consumer task: put a message, await its handling.

    Kept running for the whole benchmark, so each case is timed beside it.
    """

    def __init__(self) -> None:
        self.queue: asyncio.Queue[tuple[object, asyncio.Future[None]]] = asyncio.Queue()
        self.best = 0.0  # the best of all its rounds (the baseline row)
        self.task: asyncio.Task[None] | None = None

    async def handler(self, message: object) -> None:
        return None

    async def consumer(self) -> None:
        while True:
            message, done = await self.queue.get()
            await self.handler(message)
            done.set_result(None)

    def start(self) -> None:
        self.task = asyncio.create_task(self.consumer())

    async def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
            await asyncio.gather(self.task, return_exceptions=True)

    async def run(self, count: int) -> None:
        loop = asyncio.get_running_loop()
        queue = self.queue
        for i in range(count):
            done = loop.create_future()
            queue.put_nowait((i, done))
            await done


async def _best_rate(run: Run, n: int, rounds: int, base: Baseline) -> tuple[float, float]:
    """The best round of ``run`` and of the baseline, each round of ``run`` right after one."""
    await base.run(max(n // 10, 100))  # warm-up
    await run(max(n // 10, 100))
    best = beside = 0.0
    for _ in range(rounds):
        beside = max(beside, await _timed(base.run, n))
        best = max(best, await _timed(run, n))
    base.best = max(base.best, beside)
    return best, beside


async def publish_rate(
    bus: MessageBus, handlers: int, n: int, rounds: int, base: Baseline
) -> tuple[float, float]:
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

    return await _best_rate(run, n, rounds, base)


async def command_stats(
    bus: MessageBus, n: int, rounds: int, base: Baseline
) -> tuple[float, float, float, float]:
    await bus.reset()

    async def handler(command: BenchCommand) -> CommandResult:
        return CommandResult(success=True, result=command.value)

    bus.register_command_handler(BenchCommand, handler)
    await bus.start()

    async def run(count: int) -> None:
        execute = bus.execute
        for i in range(count):
            await execute(BenchCommand(value=i))

    rate, beside = await _best_rate(run, n, rounds, base)
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
    return rate, beside, p50, p99


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


async def jsonl_rate(
    bus: MessageBus, n: int, rounds: int, log_dir: Path, base: Baseline
) -> tuple[float, float]:
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
        return await _best_rate(run, n, rounds, base)
    finally:
        file_handler.close()


def _status(ok: bool | None) -> str:
    return "-" if ok is None else ("ok" if ok else "MISSED")


async def main(n: int, rounds: int) -> list[Row]:
    bus = MessageBus()
    base = Baseline()
    base.start()
    rows: list[Row] = []
    try:
        with tempfile.TemporaryDirectory() as tmp:
            bus.data_dir = Path(tmp)
            rows += await _cases(bus, n, rounds, base, Path(tmp))
    finally:
        await base.stop()
    rows.insert(0, Row("baseline: asyncio.Queue + consumer task", base.best, 1.0, "", "", None))
    return rows


async def _cases(bus: MessageBus, n: int, rounds: int, base: Baseline, tmp: Path) -> list[Row]:
    rows: list[Row] = []
    rate, beside = await publish_rate(bus, 1, n, rounds, base)
    ratio = rate / beside
    rows.append(Row("publish-and-await, 1 handler", rate, ratio, "", ">= 2x", ratio >= 2))

    rate, beside = await publish_rate(bus, 10, n, rounds, base)
    ratio = rate / beside
    rows.append(Row("fan-out to 10 handlers", rate, ratio, "", ">= 1.5x", ratio >= 1.5))

    rate, beside, p50, p99 = await command_stats(bus, n, rounds, base)
    ratio = rate / beside
    rows.append(
        Row(
            "command round trip",
            rate,
            ratio,
            f"p50 {p50:.1f} us, p99 {p99:.1f} us",
            ">= 1.5x, p99 < 15 us",
            ratio >= 1.5 and p99 < 15,
        )
    )

    plain, _ = await publish_rate(bus, 1, n, rounds, base)
    logged, beside = await jsonl_rate(bus, n, rounds, tmp / "logs", base)
    rows.append(
        Row(
            "publish with JSONL handler",
            logged,
            logged / beside,
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
