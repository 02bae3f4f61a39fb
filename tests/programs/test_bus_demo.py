"""The example program runs as a user would run it, and writes a valid JSONL log."""

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_bus_demo_runs(tmp_path: Path) -> None:
    log_dir = tmp_path / "logs"
    proc = subprocess.run(
        [sys.executable, str(ROOT / "programs" / "bus_demo.py"), "--log-dir", str(log_dir)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "result 'Hello, world!'" in out
    assert "ZeroDivisionError" in out
    assert "fired: 'stretch your legs'" in out
    assert "Traceback" not in out + proc.stderr
    (log_file,) = log_dir.glob("*.jsonl")
    entries = [json.loads(line) for line in log_file.read_text().splitlines()]
    types = {entry["event_type"] for entry in entries}
    assert {"Greeted", "SessionStartEvent", "SessionEndEvent", "Reminder"} <= types
    assert not (log_dir / "pending_events.jsonl").exists()
