"""Events across nodes: one stream, one consumer group per node, and the shared schedule.

* Fan-out: every shared event is one entry of ``events`` (trimmed to
  ``max_events``); each node reads it through a consumer group of its own, so
  a node that was down, and comes back under the same ``node`` name, gets what
  it missed while the entries are retained. Entries carry ``origin``: a node
  skips its own, already delivered locally when published.
* Sending never blocks the publisher: events wait in an outbox that one task
  sends in pipelined batches, in publish order, retrying while Redis is away.
  The outbox keeps ``max_events`` at most (the stream would not keep more):
  past that, during a long outage, the oldest are dropped, with a warning.
* Scheduled events of shared types wait in a sorted set; every node runs one
  script that moves the due ones into the events stream, atomically, so each
  fires once cluster-wide, on Redis's clock, even when the node that
  scheduled it has stopped.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from typing import Any

from llmgine.distributed.codec import decode_message, encode_message
from llmgine.errors import SerializationError
from llmgine.messages.base import message_class
from llmgine.messages.events import Event, ScheduledEvent

__all__ = ["EventRelay", "stream_id"]

logger = logging.getLogger("llmgine.distributed")

_BATCH = 256
_SCHEDULE_POLL = 0.5  # longest sleep of the schedule mover (events other nodes scheduled)
_SEEN_WAIT = 5.0  # longest a result waits for the events its command published


def stream_id(entry_id: str) -> tuple[int, int]:
    """A stream entry id ``"ms-seq"`` as a comparable pair (``(0, 0)`` for anything else)."""
    ms, _, seq = entry_id.partition("-")
    try:
        return int(ms), int(seq or 0)
    except ValueError:
        return 0, 0


class EventRelay:
    """Sends this node's shared events, delivers the other nodes' ones, fires schedules."""

    def __init__(self, transport: Any) -> None:  # the RedisTransport (no import: no cycle)
        self.t = transport
        self.outbox: deque[Event] = deque()
        self.queued = 0  # events ever queued
        self.done = 0  # events ever sent (or dropped): the outbox's first is number done
        self.dropped = 0  # dropped since the last warning (a full outbox)
        self._sending = 0  # the outbox's first entries, in the batch being sent
        self._progress = asyncio.Event()  # set after each batch
        self.wake = asyncio.Event()
        self.idle = asyncio.Event()
        self.idle.set()
        self.schedule_wake = asyncio.Event()
        self.last_sent = ""  # id of the last event this node added to the stream
        self.seen: tuple[int, int] = (0, 0)  # id of the last entry this node has read
        self.read_pending = True
        self._seen_waiters: list[tuple[tuple[int, int], asyncio.Future[None]]] = []

    # -- sending --------------------------------------------------------------

    def send(self, event: Event) -> None:
        """Queue a shared event (or a shared scheduled one) for the stream."""
        if len(self.outbox) - self._sending >= max(1, int(self.t.max_events)):
            del self.outbox[self._sending]  # the oldest not being sent
            self.done += 1
            self.dropped += 1
            if self.dropped == 1:
                logger.warning(
                    "The outbox of shared events is full (%d, max_events): dropping the "
                    "oldest until Redis takes them",
                    len(self.outbox),
                )
        self.outbox.append(event)
        self.queued += 1
        self.idle.clear()
        self.wake.set()

    async def send_batch(self) -> None:
        """Send the next batch of the outbox (or wait for one)."""
        if not self.outbox:
            self.idle.set()
            if "llmgine-redis-events-out" in self.t.halted:
                return
            self.wake.clear()
            await self.wake.wait()
            return
        batch = [self.outbox[i] for i in range(min(_BATCH, len(self.outbox)))]
        self._sending = len(batch)
        try:
            answers = await self._send(batch)
        finally:
            self._sending = 0
        for _ in batch:  # only once Redis has them: an outage keeps them queued
            self.outbox.popleft()
        self.done += len(batch)
        if self.dropped:
            logger.warning("%d shared event(s) were dropped (the outbox was full)", self.dropped)
            self.dropped = 0
        self._progress.set()
        for answer, event in zip(answers, batch, strict=True):
            if not isinstance(event, ScheduledEvent):
                self.last_sent = answer
        if any(isinstance(event, ScheduledEvent) for event in batch):
            self.schedule_wake.set()

    async def _send(self, batch: list[Event]) -> list[Any]:
        t = self.t
        pipe = t.redis.pipeline(transaction=False)
        for event in batch:
            data = encode_message(event)
            if isinstance(event, ScheduledEvent):
                due = event.scheduled_time.timestamp()
                await t.scripts["schedule"](  # queued on the pipeline
                    keys=[t.keys.schedule, t.keys.schedule_body],
                    args=[repr(due), event.event_id, data],
                    client=pipe,
                )
            else:
                fields = {
                    "id": event.event_id,
                    "type": event._message_type,
                    "data": data,
                    "origin": t.node,
                }
                pipe.xadd(t.keys.events, fields, maxlen=t.max_events, approximate=True)
        return list(await pipe.execute())

    async def flush(self, seconds: float = 5.0) -> None:
        """Wait (at most ``seconds``) until every queued event has been sent."""
        if self.outbox:
            try:
                await asyncio.wait_for(self.idle.wait(), seconds)
            except TimeoutError:
                logger.warning("%d shared event(s) not sent yet to Redis", len(self.outbox))

    async def sent_up_to(self, count: int, seconds: float = 5.0) -> None:
        """Wait (at most ``seconds``) until the first ``count`` events queued are sent.

        Not for the whole outbox: under steady event load it is never empty,
        and a command's result waits only for the events queued before it.
        """
        deadline = time.monotonic() + seconds
        while self.done < count:
            left = deadline - time.monotonic()
            if left <= 0:
                logger.warning("%d shared event(s) not sent yet to Redis", count - self.done)
                return
            self._progress.clear()
            try:
                await asyncio.wait_for(self._progress.wait(), left)
            except TimeoutError:
                pass

    # -- receiving ------------------------------------------------------------

    async def read(self) -> None:
        """One read of the events stream for this node's group; deliver, then ack."""
        t = self.t
        group = t.keys.event_group(t.node)
        await t.ensure_groups([t.keys.events], group, "$")
        if self.read_pending:
            answer = await t.redis.xreadgroup(group, t.node, {t.keys.events: "0"}, count=1000)
            self.read_pending = False
        else:
            answer = await t.redis.xreadgroup(
                group, t.node, {t.keys.events: ">"}, count=_BATCH, block=1000
            )
        for _, entries in t.stream_entries(answer):
            if not entries:
                continue
            for entry_id, fields in entries:
                await self.deliver(entry_id, fields or {})
            await t.redis.xack(t.keys.events, group, *(entry_id for entry_id, _ in entries))
            self.saw(stream_id(entries[-1][0]))

    async def deliver(self, entry_id: str, fields: dict[str, str]) -> None:
        """Deliver one entry to the handlers here (skipping its own and unshared types)."""
        t = self.t
        origin = fields.get("origin")
        if not fields or origin == t.node:
            return
        type_name = fields.get("type")
        if type_name:
            try:
                if not t.shares(message_class(type_name)):
                    return
            except SerializationError:
                pass  # decoding below says why, and dead-letters it
        try:
            event = decode_message(fields, Event)
        except SerializationError as exc:
            logger.warning("Dead-lettered event record %s: %s", entry_id, exc)
            await t.dead_letter(t.keys.events, entry_id, fields, str(exc))
            return
        if not t.shares(type(event)):
            return
        event.metadata.setdefault("received_from", origin or "schedule")
        try:
            await t.bus.deliver_remote(event)
        except Exception as exc:  # raised only with unsuppressed event errors
            logger.warning("Handler of remote %s failed: %s", type(event).__name__, exc)

    def saw(self, entry: tuple[int, int]) -> None:
        """Record that entries up to ``entry`` were read; wake the results waiting for it."""
        if entry > self.seen:
            self.seen = entry
        still: list[tuple[tuple[int, int], asyncio.Future[None]]] = []
        for target, future in self._seen_waiters:
            if target <= self.seen:
                if not future.done():
                    future.set_result(None)
            else:
                still.append((target, future))
        self._seen_waiters = still

    async def seen_up_to(self, entry_id: str) -> None:
        """Wait (bounded) until this node has delivered the events up to ``entry_id``.

        A command's result names the last event its node sent before it, so
        the caller's handlers see a turn's events before its result.
        """
        target = stream_id(entry_id)
        if not entry_id or target <= self.seen or self.t.closing or not self.t.shares_any:
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._seen_waiters.append((target, future))
        try:
            await asyncio.wait_for(future, _SEEN_WAIT)
        except TimeoutError:
            logger.debug("events up to %s not seen after %.0f s", entry_id, _SEEN_WAIT)

    # -- the shared schedule ----------------------------------------------------

    async def move_due(self) -> None:
        """Fire the due shared scheduled events, then sleep until the next one (bounded)."""
        t = self.t
        moved = await t.scripts["move_due"](
            keys=[t.keys.schedule, t.keys.events, t.keys.schedule_body],
            args=[100, t.max_events],
        )
        if moved:
            return
        earliest = await t.redis.zrange(t.keys.schedule, 0, 0, withscores=True)
        delay = _SCHEDULE_POLL
        if earliest:
            delay = min(delay, max(0.002, float(earliest[0][1]) - time.time()))
        if "llmgine-redis-schedule" in self.t.halted:
            return
        self.schedule_wake.clear()
        try:
            await asyncio.wait_for(self.schedule_wake.wait(), delay)
        except TimeoutError:
            pass
