"""Ctrl-C while a turn runs: cancel the turn, not the program.

While the CLI waits for an answer the terminal is in its normal mode, so
Ctrl-C sends SIGINT. :class:`SigintHandler` routes that signal to a callback
through the event loop (``loop.add_signal_handler``) for as long as it is
active, then puts the previous handler back. At a prompt the terminal is in raw
mode and Ctrl-C is an ordinary key handled by prompt_toolkit, not a signal.

Where the loop cannot handle signals (Windows, a thread other than the main
one) nothing is installed and Ctrl-C keeps its usual effect.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Callable
from types import TracebackType
from typing import Any

__all__ = ["SigintHandler"]


class SigintHandler:
    """Call ``callback`` on SIGINT while the ``with`` block runs.

    Args:
        callback: Called (in the event loop) for each SIGINT.
    """

    def __init__(self, callback: Callable[[], Any]) -> None:
        self.callback = callback
        self.installed = False
        self._active = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._previous: Any = None

    def __enter__(self) -> SigintHandler:
        self._active = True
        self._previous = signal.getsignal(signal.SIGINT)
        self.install()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc_value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._active = False
        self._uninstall()

    def install(self) -> bool:
        """(Re)install the handler (something else may have replaced it); True if it is."""
        if not self._active:
            return False
        try:
            loop = asyncio.get_running_loop()
            loop.add_signal_handler(signal.SIGINT, self.callback)
        except (NotImplementedError, RuntimeError, ValueError, AttributeError):
            self.installed = False
            return False
        self._loop = loop
        self.installed = True
        return True

    def _uninstall(self) -> None:
        if not self.installed or self._loop is None:
            return
        self.installed = False
        try:
            self._loop.remove_signal_handler(signal.SIGINT)
            if self._previous is not None:
                signal.signal(signal.SIGINT, self._previous)
        except (RuntimeError, ValueError):  # the loop is closing: nothing left to restore
            pass
        self._loop = None
