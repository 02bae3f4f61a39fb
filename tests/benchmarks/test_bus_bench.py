"""The bus benchmark runs and reports every case beside its baseline (figures not checked)."""

from collections.abc import Callable


def test_the_bus_benchmark_runs(run_benchmark: Callable[..., str]) -> None:
    out = run_benchmark("bus_bench.py", "-n", "300", "--rounds", "1")
    cases = ("baseline", "publish-and-await", "fan-out", "command round trip", "JSONL", "lateness")
    for case in cases:
        assert case in out, (case, out)
    baseline = next(line for line in out.splitlines() if line.startswith("baseline"))
    assert "1.00x" in baseline
