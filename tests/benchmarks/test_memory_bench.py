"""The memory benchmark runs and reports every backend it can use (its figures are not checked)."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_memory_benchmark_runs(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "memory_bench.py"), "--quick"],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
    )
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    for backend in ("sqlite-vec", "numpy", "python"):
        assert backend in proc.stdout
    assert proc.stdout.count("x\n") >= 2  # a ratio per size for the python scan at least
    assert "baseline" in proc.stdout
