"""The real ``llmgine web`` server in a subprocess, for the end-to-end tests."""

from __future__ import annotations

import os
import queue
import re
import signal
import subprocess
import sys
import threading
from pathlib import Path
from types import TracebackType
from urllib.parse import parse_qs, urlsplit

#: The ``llmgine`` console script installed with the project.
LLMGINE = Path(sys.executable).with_name("llmgine")
ROOT = Path(__file__).resolve().parents[2]
_URL = re.compile(r"http://\S+/\?token=\S+")


def clean_environment(**extra: str) -> dict[str, str]:
    """This environment without API keys (so the offline demo model answers)."""
    env = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY")}
    env.update(extra)
    return env


def run_llmgine(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run ``llmgine ARGS`` to its end (for commands that exit)."""
    return subprocess.run(
        [str(LLMGINE), *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=clean_environment(),
        timeout=120,
        check=False,
    )


class WebServer:
    """``llmgine web ARGS --port 0`` running until :meth:`stop` (or the ``with`` block's end).

    Attributes:
        url: The URL it printed (with the token).
        base: ``http://host:port``.
        token: The access token.
    """

    def __init__(self, args: list[str], cwd: Path, startup: float = 90.0) -> None:
        self.process = subprocess.Popen(
            [str(LLMGINE), "web", "--port", "0", *args],
            cwd=cwd,
            env=clean_environment(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.stdout: list[str] = []
        self.stderr: list[str] = []
        lines: queue.Queue[str | None] = queue.Queue()
        self._readers = [
            threading.Thread(
                target=_pump, args=(self.process.stdout, self.stdout, lines), daemon=True
            ),
            threading.Thread(
                target=_pump, args=(self.process.stderr, self.stderr, None), daemon=True
            ),
        ]
        for reader in self._readers:
            reader.start()
        self.url = ""
        while not self.url:
            try:
                line = lines.get(timeout=startup)
            except queue.Empty:
                self.stop()
                raise AssertionError(f"llmgine web printed no URL in {startup} s") from None
            if line is None:
                self.stop()
                raise AssertionError(f"llmgine web ended: {''.join(self.stderr)}")
            found = _URL.search(line)
            if found:
                self.url = found.group()
        parts = urlsplit(self.url)
        self.base = f"{parts.scheme}://{parts.netloc}"
        self.token = parse_qs(parts.query)["token"][0]

    def stop(self, sig: int = signal.SIGINT) -> int:
        """Interrupt the server (SIGINT: as Ctrl-C does) and return its exit code."""
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=60)
        for reader in self._readers:
            reader.join(timeout=10)
        for stream in (self.process.stdout, self.process.stderr):
            if stream is not None:
                stream.close()
        return self.process.returncode

    def __enter__(self) -> WebServer:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()


def _pump(stream: object, into: list[str], lines: queue.Queue[str | None] | None) -> None:
    for line in iter(stream.readline, ""):  # type: ignore[attr-defined]
        into.append(line)
        if lines is not None:
            lines.put(line)
    if lines is not None:
        lines.put(None)
