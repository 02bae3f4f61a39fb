"""programs/distributed/demo.py: two workers and a client on a redis-server of their own."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "distributed"))

from redis_server import require_redis_server  # noqa: E402


def test_two_workers_answer_the_client() -> None:
    require_redis_server()
    proc = subprocess.run(
        [sys.executable, str(ROOT / "programs" / "distributed" / "demo.py")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "worker-1: ready" in out and "worker-2: ready" in out
    assert "'the bus across processes': 4 words" in out
    assert "'commands exactly once': 3 words" in out
    assert "counting" in out  # a worker's Progress event reached the client
    assert "Traceback" not in proc.stderr
