"""Trace context and message ids.

The bus sets :data:`current_message` while a handler runs, so every message
created inside that handler records the handled message as its ``parent_id`` and
inherits its ``trace_id``. A message created outside any handler starts a new
trace whose id is its own. Context variables follow ``await`` and tasks, so the
links hold across nested publishes and commands.
"""

from __future__ import annotations

import itertools
import os
from contextvars import ContextVar

__all__ = ["current_message", "current_session", "new_id"]

#: ``(message_id, trace_id, session_id)`` of the message whose handler is running.
current_message: ContextVar[tuple[str, str, str] | None] = ContextVar(
    "llmgine_current_message", default=None
)


def current_session(default: str = "ROOT") -> str:
    """The session of the message being handled right now, else ``default``.

    Framework code that publishes on a caller's behalf (model calls, tool
    runs) uses it so its events reach the session that caused them.
    """
    current = current_message.get()
    return current[2] if current is not None else default


_prefix = ""
_counter = itertools.count()


def _reseed() -> None:
    # 64 random bits per process (and per forked child) + a 64-bit counter:
    # unique across processes and restarts, and several times cheaper than uuid4().
    global _prefix, _counter
    _prefix = os.urandom(8).hex()
    _counter = itertools.count(int.from_bytes(os.urandom(4), "big"))  # < 2**64 for ages


_reseed()
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reseed)


def new_id() -> str:
    """Return a new unique id: 32 hex digits.

    The first half is the process counter written little-endian, so ids
    differ in their first characters (the ones people abbreviate to); the
    second half is the per-process random prefix.
    """
    return next(_counter).to_bytes(8, "little").hex() + _prefix
