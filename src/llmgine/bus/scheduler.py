"""Scheduled events waiting for their time, with one loop timer for the earliest."""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from collections.abc import Callable

from llmgine.messages.events import ScheduledEvent

__all__ = ["Scheduler"]


class Scheduler:
    """A heap of scheduled events and one ``loop.call_at`` timer for the earliest.

    Nothing polls: the timer is armed only while something is scheduled. When
    it fires, every event whose time has come is passed to ``on_due``, in time
    order (then publish order), and the timer is armed for the next one.
    Times are compared on the wall clock, so an event is never handed over
    before its ``scheduled_time``, even if the loop's timer fires early.

    Args:
        on_due: Called (in the loop) with the events that are due.
    """

    def __init__(self, on_due: Callable[[list[ScheduledEvent]], None]) -> None:
        self._on_due = on_due
        self._heap: list[tuple[float, int, ScheduledEvent]] = []
        self._sequence = itertools.count()
        self._loop: asyncio.AbstractEventLoop | None = None
        self.timer: asyncio.TimerHandle | None = None

    def __len__(self) -> int:
        return len(self._heap)

    def push(self, event: ScheduledEvent) -> None:
        """Add ``event``; re-arm the timer if it is armed and this one is earlier."""
        when = event.scheduled_time.timestamp()  # naive datetimes are local time
        heapq.heappush(self._heap, (when, next(self._sequence), event))
        if self.timer is not None and self._loop is not None and self._heap[0][2] is event:
            self.arm(self._loop)

    def pending(self) -> list[ScheduledEvent]:
        """The events not handed over yet, earliest first."""
        return [entry[2] for entry in sorted(self._heap)]

    def arm(self, loop: asyncio.AbstractEventLoop) -> None:
        """(Re)arm the timer on ``loop`` for the earliest event, if any."""
        self.disarm()
        self._loop = loop
        if self._heap:
            delay = max(0.0, self._heap[0][0] - time.time())
            self.timer = loop.call_at(loop.time() + delay, self._fire)

    def disarm(self) -> None:
        """Cancel the timer; the events stay."""
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None

    def forget_timer(self) -> None:
        """Drop the timer of a closed loop without touching it."""
        self.timer = None
        self._loop = None

    def clear(self) -> None:
        """Cancel the timer and drop every event."""
        self.disarm()
        self._heap.clear()

    def _fire(self) -> None:
        self.timer = None
        now = time.time()
        due: list[ScheduledEvent] = []
        while self._heap and self._heap[0][0] <= now:
            due.append(heapq.heappop(self._heap)[2])
        if due:
            self._on_due(due)
        if self._loop is not None:
            self.arm(self._loop)
