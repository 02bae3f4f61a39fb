"""A stdio MCP server's stderr, read by a thread into a logger."""

from __future__ import annotations

import contextlib
import logging
import os
import threading
from collections import deque
from collections.abc import Callable

__all__ = ["StderrPump"]


class StderrPump:
    """A stdio server's stderr, read by a thread into a logger; the last lines are kept.

    Server tracebacks go to ``llmgine.mcp.<server>`` instead of the terminal
    (where they would break the CLI's display), and a server that dies while
    starting is reported with what it printed.
    """

    def __init__(self, name: str, mask: Callable[[str], str] | None = None) -> None:
        read_fd, write_fd = os.pipe()
        self.writer = os.fdopen(write_fd, "w")
        self._reader = os.fdopen(read_fd, "r", errors="replace")
        self.tail: deque[str] = deque(maxlen=12)
        self._mask = mask or (lambda line: line)  # the server's secrets never reach a log
        #: Set once the server's stderr is closed: it has exited (once our copy is closed).
        self.ended = threading.Event()
        self._log = logging.getLogger(f"llmgine.mcp.{name}")
        self._thread = threading.Thread(target=self._run, name=f"llmgine-mcp-{name}", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            for line in self._reader:
                line = self._mask(line.rstrip())
                if line:
                    self.tail.append(line)
                    self._log.info("%s", line)
        except (OSError, ValueError):  # closed under the read at exit
            pass
        finally:
            self.ended.set()
            with contextlib.suppress(OSError):
                self._reader.close()

    def close_writer(self) -> None:
        """Drop this process's copy of the pipe (the child keeps its own)."""
        with contextlib.suppress(OSError):
            self.writer.close()

    def finish(self, timeout: float = 2.0) -> None:
        """Wait until the child's stderr is read to its end (it has exited)."""
        self.close_writer()
        self._thread.join(timeout)
