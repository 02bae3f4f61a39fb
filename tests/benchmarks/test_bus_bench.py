"""The bus benchmark runs and reports every case beside its baseline (figures not checked)."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_bus_benchmark_runs(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "bus_bench.py"), "-n", "300", "--rounds", "1"],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
        env={"LLMGINE_DATA_DIR": str(tmp_path), "PATH": "/usr/bin:/bin"},
    )
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    cases = ("baseline", "publish-and-await", "fan-out", "command round trip", "JSONL", "lateness")
    for case in cases:
        assert case in proc.stdout, (case, proc.stdout)
    baseline = next(line for line in lines if line.startswith("baseline"))
    assert "1.00x" in baseline and "Traceback" not in proc.stderr
