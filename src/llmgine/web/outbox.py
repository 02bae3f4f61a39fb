"""The numbered messages of one browser session, kept for a page that reconnects.

Every message the server sends a page gets the next sequence number of its
session. The last ones are kept (bounded by count and by size), so a tab that
lost its connection asks for what came after the last number it saw and gets
exactly the messages it missed. A message sent with a ``key`` replaces the
earlier one of that key (the trace tree of a turn is sent whole each time it
grows; only the newest is worth replaying).
"""

from __future__ import annotations

import asyncio
from typing import Any

from llmgine.observability.base import dumps_json

__all__ = ["Outbox"]


class Outbox:
    """The messages of a session, by sequence number, the newest ones kept.

    Args:
        max_items: Most messages kept.
        max_bytes: Most bytes (of JSON) kept; the oldest go first.
    """

    def __init__(self, max_items: int = 5000, max_bytes: int = 8_000_000) -> None:
        self.max_items = max(1, max_items)
        self.max_bytes = max(1, max_bytes)
        self._items: dict[int, tuple[str, str | None]] = {}
        self._keyed: dict[str, int] = {}
        self._bytes = 0
        self._seq = 0
        self._dropped_upto = 0  # the newest sequence number evicted by the bounds
        self._changed = asyncio.Event()
        self.closed = False

    @property
    def last_seq(self) -> int:
        """The number of the newest message (0 before the first)."""
        return self._seq

    def __len__(self) -> int:
        return len(self._items)

    def append(self, message: dict[str, Any], key: str | None = None) -> int:
        """Number ``message`` (its ``seq`` field is set), keep it and wake the senders.

        Args:
            message: A JSON-compatible dict.
            key: Replace the kept message of this key, if any.

        Returns:
            The message's sequence number.
        """
        self._seq += 1
        message["seq"] = self._seq
        text = dumps_json(message).decode()
        if key is not None:
            earlier = self._keyed.pop(key, None)
            if earlier is not None:
                self._forget(earlier)
            self._keyed[key] = self._seq
        self._items[self._seq] = (text, key)
        self._bytes += len(text)
        while len(self._items) > 1 and (
            len(self._items) > self.max_items or self._bytes > self.max_bytes
        ):
            oldest = next(iter(self._items))
            self._forget(oldest)
            self._dropped_upto = oldest
        self.wake()
        return self._seq

    def _forget(self, seq: int) -> None:
        text, key = self._items.pop(seq)
        self._bytes -= len(text)
        if key is not None and self._keyed.get(key) == seq:
            del self._keyed[key]

    def after(self, seq: int) -> tuple[list[tuple[int, str]], bool]:
        """The kept messages numbered above ``seq``, and whether some of those were dropped."""
        found: list[tuple[int, str]] = []
        for number in reversed(self._items):
            if number <= seq:
                break
            found.append((number, self._items[number][0]))
        found.reverse()
        return found, seq < self._dropped_upto

    def wake(self) -> None:
        """Wake everyone waiting in :meth:`wait` (a message came, or a sender must stop)."""
        self._changed.set()
        self._changed = asyncio.Event()

    async def wait(self, seq: int) -> None:
        """Return when there is a message numbered above ``seq``, or on :meth:`wake`."""
        if self._seq > seq or self.closed:
            return
        await self._changed.wait()

    def close(self) -> None:
        """No more messages: wake the senders so they stop."""
        self.closed = True
        self.wake()
