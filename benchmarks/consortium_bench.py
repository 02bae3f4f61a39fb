"""Consortium benchmark: a turn's wall time against its slowest member (target at most 1.1x).

Run with ``.venv/bin/python benchmarks/consortium_bench.py``.

Members are offline models with simulated latencies spread over 50-200 ms and
a fast offline arbiter (one round). The baseline, measured in the same run, is
one call of the slowest member alone: a consortium whose members really run
in parallel costs that plus its own overhead (events, anonymising, the
arbiter's call). Each case is timed in several rounds; the median is reported.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
from typing import Any

from llmgine.engines.consortium import ConsortiumEngine
from llmgine.testing import FunctionModel

TARGET = 1.1


def _members(count: int, low: float, high: float) -> list[FunctionModel]:
    step = (high - low) / max(1, count - 1)
    return [
        FunctionModel(
            lambda m, i, n=n: f"answer {n} " * (n + 1), name=f"m{n}", latency=low + n * step
        )
        for n in range(count)
    ]


def _arbiter() -> FunctionModel:
    verdict = {"synthesis": "combined", "confidence": 0.95, "ranking": ["Response 1"]}
    return FunctionModel(lambda m, i: json.dumps(verdict), name="arbiter")


async def _time(coro_factory: Any, rounds: int) -> float:
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        await coro_factory()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


async def bench(rounds: int) -> list[tuple[int, float, float, float]]:
    rows = []
    for count in (2, 5, 10, 20):
        members = _members(count, 0.05, 0.2)
        slowest = members[-1]
        engine = ConsortiumEngine(members, _arbiter(), max_concurrency=count, seed=0)
        await engine.execute("warm-up")
        engine.clear_context()

        async def one_turn(engine: ConsortiumEngine = engine) -> None:
            result = await engine.execute("What is the best sorting algorithm?")
            assert result.success, result.error
            engine.clear_context()

        alone = await _time(lambda slowest=slowest: slowest.generate("q"), rounds)
        turn = await _time(one_turn, rounds)
        rows.append((count, alone, turn, turn / alone))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7, help="timed turns per case (median)")
    args = parser.parse_args()
    rows = asyncio.run(bench(args.rounds))
    print(f"{'members':>7}  {'slowest alone':>13}  {'consortium':>10}  {'ratio':>6}  target")
    ok = True
    for count, alone, turn, ratio in rows:
        passed = ratio <= TARGET
        ok &= passed
        print(
            f"{count:>7}  {alone * 1000:>10.1f} ms  {turn * 1000:>7.1f} ms  {ratio:>5.2f}x  "
            f"<= {TARGET}x {'ok' if passed else 'MISSED'}"
        )
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
