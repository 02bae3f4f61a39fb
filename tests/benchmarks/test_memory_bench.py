"""The memory benchmark runs and reports every backend it can use (its figures are not checked)."""

from collections.abc import Callable


def test_the_memory_benchmark_runs(run_benchmark: Callable[..., str]) -> None:
    out = run_benchmark("memory_bench.py", "--quick")
    for backend in ("sqlite-vec", "numpy", "python"):
        assert backend in out
    assert out.count("x\n") >= 2  # a ratio per size for the python scan at least
    assert "baseline" in out
