"""Running a benchmark script as a user would, in a fresh directory with nothing in it."""

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def run_benchmark(tmp_path: Path) -> Callable[..., str]:
    """Run ``benchmarks/<script>`` with ``args``; its output, once it exited cleanly."""

    def run(script: str, *args: str) -> str:
        proc = subprocess.run(
            [sys.executable, str(ROOT / "benchmarks" / script), *args],
            capture_output=True,
            text=True,
            timeout=300,
            cwd=tmp_path,
            env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "LLMGINE_DATA_DIR": str(tmp_path)},
        )
        assert proc.returncode == 0, proc.stderr
        assert "Traceback" not in proc.stderr
        return proc.stdout

    return run
