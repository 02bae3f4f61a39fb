"""The engine benchmark runs and reports every case (its figures are not checked)."""

from collections.abc import Callable


def test_the_engine_benchmark_runs(run_benchmark: Callable[..., str]) -> None:
    out = run_benchmark("engine_bench.py", "--quick")
    for case in ("sync tool (worker thread)", "async tool", "JSONL log on", "bare openai SDK"):
        assert case in out
