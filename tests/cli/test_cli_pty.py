"""The CLI in a real pseudo-terminal: a child Python runs ``EngineCLI.main()`` on a pty.

The test types like a user (keys written to the pty's master side) and reads
the screen output, answering the terminal's cursor-position requests as a
terminal would. It never sleeps: it reads until the expected text appears.
"""

from __future__ import annotations

import fcntl
import os
import re
import select
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="needs a POSIX pseudo-terminal")

HERE = Path(__file__).resolve().parent
TIMEOUT = 30.0
ROWS, COLUMNS = 24, 100
CPR_REQUEST = b"\x1b[6n"
ANSI = re.compile(  # CSI, OSC and the short escape sequences a terminal interprets
    rb"\x1b\[[0-?]*[ -/]*[@-~]"
    rb"|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)"
    rb"|\x1b[()][0-9A-Za-z]"
    rb"|\x1b[=>78]"
)

CHILD = """
import asyncio, fcntl, sys, termios
sys.path.insert(0, {here!r})
# What a shell does for a program it starts: the pty becomes the controlling
# terminal, so Ctrl-C sends SIGINT to this process.
fcntl.ioctl(0, termios.TIOCSCTTY, 0)

from cli_fake_engine import EchoEngine
from llmgine.cli import EngineCLI


async def main():
    engine = EchoEngine("pty", stream=True)
    cli = EngineCLI("pty", history_file={history!r})
    cli.register_engine(engine)
    cli.register_engine_command(engine.command_type, engine.handle_command)
    cli.register_loading_event(engine.status_event_type)
    await cli.main()


asyncio.run(main())
"""


class Terminal:
    """A child process on a pseudo-terminal, read and typed into from the master side."""

    def __init__(
        self, tmp_path: Path, argv: list[str] | None = None, cwd: Path | None = None
    ) -> None:
        master, slave = os.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", ROWS, COLUMNS, 0, 0))
        env = {
            **os.environ,
            "TERM": "xterm-256color",
            "HOME": str(tmp_path),
            "LLMGINE_DATA_DIR": str(tmp_path / "data"),
        }
        for name in ("COLUMNS", "LINES", "NO_COLOR", "FORCE_COLOR", "TERM_PROGRAM"):
            env.pop(name, None)
        for name in [name for name in env if name.endswith("_API_KEY")]:
            del env[name]  # a user with no key
        script = CHILD.format(here=str(HERE), history=str(tmp_path / "history"))
        self.process = subprocess.Popen(
            argv or [sys.executable, "-c", script],
            stdin=slave,
            stdout=slave,
            stderr=slave,
            env=env,
            cwd=cwd or tmp_path,
            start_new_session=True,
            close_fds=True,
        )
        os.close(slave)
        self.master = master
        self.raw = b""
        self.cpr_answered = 0
        self.seen = 0  # read_until looks for text after the previous match

    def text(self) -> str:
        return ANSI.sub(b"", self.raw).decode("utf-8", "replace").replace("\r", "")

    def _read_some(self, deadline: float) -> bool:
        """Read what is there (waiting until ``deadline``); False at end of output."""
        ready, _, _ = select.select([self.master], [], [], max(0.0, deadline - time.monotonic()))
        if not ready:
            return True
        try:
            chunk = os.read(self.master, 65536)
        except OSError:  # EIO: the child closed the terminal
            return False
        if not chunk:
            return False
        self.raw += chunk
        while self.raw.count(CPR_REQUEST) > self.cpr_answered:
            self.cpr_answered += 1
            self.type(f"\x1b[{ROWS};1R")  # the cursor position, as a terminal answers
        return True

    def read_until(self, expected: str, timeout: float = TIMEOUT) -> None:
        deadline = time.monotonic() + timeout
        while True:
            text = self.text()
            found = text.find(expected, self.seen)
            if found >= 0:
                self.seen = found + len(expected)
                return
            if time.monotonic() > deadline or not self._read_some(deadline):
                raise AssertionError(f"{expected!r} did not appear; the screen so far:\n{text}")

    def type(self, keys: str) -> None:
        os.write(self.master, keys.encode())

    def wait_for_prompt(self) -> None:
        self.read_until("fake:echo │ Enter send")  # the bottom toolbar of the input prompt

    def finish(self, timeout: float = TIMEOUT) -> int:
        """Read the rest of the output and return the exit code."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self._read_some(deadline):
            pass
        return self.process.wait(timeout=max(1.0, deadline - time.monotonic()))

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=TIMEOUT)
        os.close(self.master)


@pytest.fixture
def terminal(tmp_path: Path):
    term = Terminal(tmp_path)
    try:
        yield term
    finally:
        term.close()


def test_chat_then_ctrl_d_exits_cleanly(terminal: Terminal, tmp_path: Path) -> None:
    terminal.read_until("llmgine · EchoEngine · fake:echo")
    terminal.wait_for_prompt()
    terminal.type("hello there\r")
    terminal.read_until("echo: hello there")
    terminal.wait_for_prompt()
    terminal.type("/cost\r")
    terminal.read_until("Session: 15 tokens (10 in, 5 out), cost $0.0015")
    terminal.wait_for_prompt()
    terminal.type("\x04")  # Ctrl-D
    assert terminal.finish() == 0
    assert "Traceback" not in terminal.text()
    assert "hello there" in (tmp_path / "history").read_text()


def test_ctrl_c_cancels_a_turn_and_twice_at_the_prompt_exits(terminal: Terminal) -> None:
    terminal.wait_for_prompt()
    terminal.type("slow answer\r")
    terminal.read_until("thinking")  # the spinner's status: the turn is running
    terminal.type("\x03")  # Ctrl-C: SIGINT from the terminal
    terminal.read_until("cancelled")
    terminal.wait_for_prompt()
    terminal.type("still alive\r")
    terminal.read_until("echo: still alive")
    terminal.wait_for_prompt()
    terminal.type("\x03")
    terminal.read_until("Press Ctrl-C again or Ctrl-D to quit.")
    terminal.wait_for_prompt()
    terminal.type("\x03")
    assert terminal.finish() == 0
    assert "Traceback" not in terminal.text()


def test_make_run_without_a_key_is_an_offline_demo(tmp_path: Path) -> None:
    """``make run`` as a new user types it: the weather tools on the offline demo model."""
    root = HERE.parents[1]
    stale = subprocess.run(["make", "-q", ".venv/.installed"], cwd=root, capture_output=True)
    # make run would rebuild .venv under this very test run: say what to do instead.
    assert stale.returncode == 0, "pyproject.toml or the lock changed: run the suite with make test"
    logs = root / "logs"
    before = set(logs.glob("*")) if logs.is_dir() else set()
    terminal = Terminal(tmp_path, ["make", "--no-print-directory", "-s", "run"], cwd=root)
    try:
        terminal.read_until("offline demo model")
        terminal.read_until("Enter send")  # the input prompt is up
        terminal.type("What's the weather in Perth?\r")
        terminal.read_until("[offline demo] get_weather says: Perth: ")
        terminal.read_until("Enter send")
        terminal.type("/exit\r")
        assert terminal.finish() == 0
        assert "Traceback" not in terminal.text()
    finally:
        terminal.close()
        for path in set(logs.glob("*")) - before:  # this run's event log
            path.unlink()
