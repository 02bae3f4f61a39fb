"""``RedisTransport``: the bus across processes and machines, on Redis Streams.

::

    from llmgine.distributed import RedisTransport

    await bus.attach(RedisTransport("redis://127.0.0.1:6379/0", events=[OrderPlaced]))
    ...
    await bus.detach()

Each attached bus is a *node*. A command with no handler on its node goes to
a node that has one (:mod:`llmgine.distributed.commands`); events of the
shared types reach every node (:mod:`llmgine.distributed.events`). Every loop
survives Redis going away: it backs off (50 ms doubling to 2 s, jittered),
reconnects, re-reads its own pending entries and recreates missing consumer
groups (Redis restarted without its data) with one warning. Run Redis with
``appendonly yes`` so that a restart keeps what was acknowledged.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import os
import re
import socket
import time
from collections.abc import Awaitable, Callable, Coroutine, Iterable, Sequence
from typing import Any, Literal, TypeVar

from llmgine.distributed import scripts
from llmgine.distributed.cancel import Cancels
from llmgine.distributed.commands import CommandCaller, CommandWorker
from llmgine.distributed.connection import Backoff, connect, is_connection_error, is_nogroup
from llmgine.distributed.events import EventRelay
from llmgine.distributed.keys import GROUP, Keys
from llmgine.errors import BusError, ConfigurationError, TransportError
from llmgine.messages.base import GLOBAL, ROOT
from llmgine.messages.commands import Command, CommandResult
from llmgine.messages.events import Event, ScheduledEvent
from llmgine.messages.trace import new_id

__all__ = ["RedisTransport", "masked_url"]

logger = logging.getLogger("llmgine.distributed")

T = TypeVar("T")


def masked_url(url: str) -> str:
    """``url`` with its password masked (for log lines, errors and pages)."""
    return re.sub(r"(//[^:/@]*:)[^@/]*@", r"\1***@", url)


_safe_url = masked_url


class RedisTransport:
    """Bridges a :class:`~llmgine.bus.MessageBus` to the buses of other processes.

    Args:
        url: The Redis server (``redis://host:6379/0``; ``rediss://`` for TLS).
        node: This node's name (default: unique per process). A node restarted
            under the same name gets the shared events it missed, and its own
            unfinished commands back.
        events: The event classes (subclasses included) that cross processes,
            or ``"all"``. Only these are sent and delivered.
        claim_after: Seconds a command may stay unacknowledged on a silent
            node before another node takes it over (running handlers renew
            their claim, so long commands are not stolen).
        command_timeout: Most seconds ``execute`` waits for a remote result;
            None: no limit while a live node serves the type (with none, the
            result fails at once).
        max_deliveries: Deliveries of one command (each ended by a dead node)
            before it is dead-lettered and its caller gets a failed result.
        namespace: Prefix of every key.
        max_events: Entries the events stream keeps (the catch-up window of
            a node that was down).
        result_ttl: Seconds a command's result is kept (its idempotency window).
    """

    def __init__(
        self,
        url: str,
        node: str | None = None,
        events: Sequence[type[Event]] | Literal["all"] = (),
        claim_after: float = 30.0,
        command_timeout: float | None = None,
        max_deliveries: int = 5,
        *,
        namespace: str = "llmgine",
        max_events: int = 10_000,
        result_ttl: int = 3600,
    ) -> None:
        if claim_after <= 0:
            raise ConfigurationError(f"claim_after must be > 0 seconds, got {claim_after!r}")
        if command_timeout is not None and command_timeout <= 0:
            raise ConfigurationError(f"command_timeout must be > 0 or None, got {command_timeout}")
        if max_deliveries < 1:
            raise ConfigurationError(f"max_deliveries must be >= 1, got {max_deliveries!r}")
        if events != "all":
            bad = [e for e in events if not (isinstance(e, type) and issubclass(e, Event))]
            if bad or isinstance(events, str):
                raise ConfigurationError(
                    f'events must be Event classes or "all", got {bad or events!r}'
                )
        self.url = url
        self.node = node or f"{socket.gethostname()}-{os.getpid()}-{new_id()[:8]}"
        self.events_shared: tuple[type[Event], ...] | Literal["all"] = (
            "all" if events == "all" else tuple(events)
        )
        self.claim_after = float(claim_after)
        self.command_timeout = command_timeout
        self.max_deliveries = max_deliveries
        self.max_events = max_events
        self.result_ttl = result_ttl
        self.keys = Keys(namespace)
        self.claim_ms = max(1, int(self.claim_after * 1000))
        self.lease_ms = self.claim_ms
        self.heartbeat_every = self.claim_after / 4
        self.liveness_ttl = min(15.0, max(2.0, 2 * self.claim_after))
        self.redis: Any = None
        self.bus: Any = None
        self.scripts: dict[str, Any] = {}
        self.closing = False
        self.connected = False
        self._shares: dict[type, bool] = {}
        self._groups: set[tuple[str, str]] = set()
        self._tasks: list[asyncio.Task[None]] = []
        self._served_types: set[str] = set()
        self._routes: set[tuple[str, str]] = set()
        self._announce = asyncio.Event()
        self._halted: set[str] = set()
        self._nogroup_warned = False
        self._backoff = Backoff()
        self.calls = CommandCaller(self)
        self.cancels = Cancels(self)
        self.worker = CommandWorker(self)
        self.events = EventRelay(self)

    def __repr__(self) -> str:
        return f"RedisTransport({_safe_url(self.url)!r}, node={self.node!r})"

    # -- the Transport protocol -------------------------------------------------

    async def attach(self, bus: Any) -> None:
        """Connect, announce this node and start its loops.

        Raises:
            TransportError: Redis cannot be reached (after the client's retries).
            ConfigurationError: redis-py is missing, or the URL is not a Redis URL.
        """
        if self.bus is not None:
            raise BusError(f"{self!r} is attached already; a transport serves one bus")
        self.redis = connect(self.url)
        try:
            await self.redis.ping()
        except Exception as exc:
            await self.redis.aclose()
            if is_connection_error(exc):
                raise TransportError(
                    f"cannot reach Redis at {_safe_url(self.url)}: {exc}; start redis-server "
                    "or pass the right URL"
                ) from exc
            raise
        self.connected = True
        self.bus = bus
        self.closing = False
        self._halted = set()
        self.scripts = {
            name: self.redis.register_script(getattr(scripts, name.upper()))
            for name in ("submit", "begin", "renew", "finish", "schedule", "move_due")
        }
        seconds, micros = await self.redis.time()
        self.events.seen = (seconds * 1000 + micros // 1000, 0)
        self.handlers_changed()
        # Groups before announcing: nothing sent once attach() returns is missed.
        await self.ensure_groups(self.worker.streams, GROUP, "0")
        if self.shares_any:
            await self.ensure_groups([self.keys.events], self.keys.event_group(self.node), "$")
        await self.announce()
        self._start("llmgine-redis-heartbeat", self._heartbeat_step)
        self._start("llmgine-redis-replies", self._read_replies_step())
        self._start("llmgine-redis-commands", self.worker.consume)
        self._start("llmgine-redis-reclaim", self._reclaim_step)
        if self.shares_any:
            self._start("llmgine-redis-events-out", self.events.send_batch)
            self._start("llmgine-redis-events-in", self.events.read)
            self._start("llmgine-redis-schedule", self.events.move_due)
        logger.info("Attached to Redis at %s as node %s", _safe_url(self.url), self.node)

    async def detach(self) -> None:
        """Finish running commands (5 s at most), send queued events, leave, disconnect."""
        if self.bus is None:
            return
        # Stop taking work first, then let the running commands and queued events finish.
        await self._halt({"llmgine-redis-commands", "llmgine-redis-reclaim"})
        await self.worker.wait_inflight(5.0)
        await self.events.flush()
        self.closing = True
        await self._halt({task.get_name() for task in self._tasks})
        self._tasks.clear()
        for future in self.calls.waiting.values():
            if not future.done():
                future.cancel()
        try:
            await asyncio.wait_for(self._withdraw(), 2.0)
        except Exception as exc:
            logger.debug("could not withdraw node %s from Redis: %s", self.node, exc)
        await self.redis.aclose()
        self.bus = None
        logger.info("Detached node %s from Redis", self.node)

    async def _halt(self, names: set[str]) -> None:
        """End the loops of ``names``: flagged, cancelled, awaited (3 s at most)."""
        self._halted |= names
        tasks = [task for task in self._tasks if task.get_name() in names]
        for task in tasks:
            task.cancel()
        for wake in (self._announce, self.events.wake, self.events.schedule_wake):
            wake.set()  # waiting loops see the flag at once
        if tasks:
            # A cancel can be lost inside redis-py's retry of a blocking read; the flag
            # ends such a loop when that read returns (within its 1 s BLOCK).
            _, pending = await asyncio.wait(tasks, timeout=3.0)
            for task in pending:
                logger.debug("loop %s did not end in time", task.get_name())

    @property
    def shares_any(self) -> bool:
        """Whether any event type crosses processes."""
        return self.events_shared == "all" or bool(self.events_shared)

    def shares(self, event_type: type[Event]) -> bool:
        """Whether events of this type cross processes."""
        try:
            return self._shares[event_type]
        except KeyError:
            shared = self.events_shared
            answer = shared == "all" or issubclass(event_type, shared)
            self._shares[event_type] = answer
            return answer

    def send_event(self, event: Event) -> None:
        """Send a shared event to the other nodes (queued; sent in order)."""
        if not self.closing:
            self.events.send(event)

    def schedule(self, event: ScheduledEvent) -> None:
        """Schedule a shared event cluster-wide (it fires once, on whichever node is up)."""
        self.events.send(event)

    async def execute(self, command: Command) -> CommandResult:
        """Run a command that has no handler here on a node that has one."""
        return await self.calls.execute(command)

    def handlers_changed(self) -> None:
        """Re-read which commands this node serves, and announce it soon."""
        routes = self.bus.command_routes() if self.bus is not None else []
        served = {t._message_type for t, session in routes if session == ROOT}
        self._served_types = served
        self.worker.serve(sorted(served))
        self._routes = {
            (session, t._message_type) for t, session in routes if session not in (ROOT, GLOBAL)
        }
        self._announce.set()

    # -- helpers the commands and events use --------------------------------------

    def spawn(self, coro: Coroutine[Any, Any, T], name: str) -> asyncio.Task[T]:
        """A task of this transport, in a context of its own (no caller's trace leaks in)."""
        return asyncio.get_running_loop().create_task(
            coro, name=name, context=contextvars.Context()
        )

    @property
    def halted(self) -> set[str]:
        """Names of the loops told to end (they return instead of waiting)."""
        return self._halted

    def backoff_delay(self) -> float:
        """The next delay of this transport's shared backoff."""
        return self._backoff.next()

    def lost(self, exc: BaseException) -> None:
        """Redis went away: say so once; readers re-read their pending entries later."""
        self.worker.read_pending = True
        self.events.read_pending = True
        self._nogroup_warned = False
        if self.connected:
            self.connected = False
            logger.warning(
                "Lost the connection to Redis at %s (%s); reconnecting",
                _safe_url(self.url),
                exc,
            )

    def recovered(self) -> None:
        """A Redis call worked again after an outage."""
        if not self.connected:
            self.connected = True
            self._backoff.reset()
            self._announce.set()
            logger.warning("Reconnected to Redis at %s", _safe_url(self.url))

    async def call(self, fn: Callable[..., Awaitable[T]], *args: Any, **kwargs: Any) -> T:
        """``await fn(...)``, retried through connection errors until the transport closes."""
        backoff = Backoff()
        while True:
            try:
                answer = await fn(*args, **kwargs)
            except Exception as exc:
                if self.closing or not is_connection_error(exc):
                    raise
                self.lost(exc)
                await asyncio.sleep(backoff.next())
            else:
                self.recovered()
                return answer

    async def alive(self, nodes: Iterable[str]) -> set[str]:
        """The nodes of ``nodes`` whose liveness key exists."""
        names = list(nodes)
        if not names:
            return set()
        pipe = self.redis.pipeline(transaction=False)
        for name in names:
            pipe.exists(self.keys.node(name))
        answers = await pipe.execute()
        return {name for name, up in zip(names, answers, strict=True) if up}

    async def ensure_groups(self, streams: Iterable[str], group: str, start: str) -> None:
        """Create the consumer group on each stream (and the stream) unless done already."""
        from redis.exceptions import ResponseError

        for stream in streams:
            if (stream, group) in self._groups:
                continue
            try:
                await self.redis.xgroup_create(stream, group, id=start, mkstream=True)
            except ResponseError as exc:
                if "BUSYGROUP" not in str(exc):
                    raise
            self._groups.add((stream, group))

    @staticmethod
    def stream_entries(answer: Any) -> list[tuple[str, list[tuple[str, dict[str, str] | None]]]]:
        """``XREAD``/``XREADGROUP`` answers as (stream, entries), for RESP2 and RESP3."""
        if not answer:
            return []
        if isinstance(answer, dict):
            return [(stream, entries[0] if entries else []) for stream, entries in answer.items()]
        return [(stream, entries) for stream, entries in answer]

    async def submit(self, target: str, command: Command) -> None:
        """Enqueue ``command`` on ``target`` once per command id."""
        from llmgine.distributed.codec import encode_message

        fields = {
            "id": command.command_id,
            "type": command._message_type,
            "data": encode_message(command),
            "reply": self.keys.reply(self.node),
            "origin": self.node,
        }
        flat = [item for pair in fields.items() for item in pair]
        await self.scripts["submit"](
            keys=[self.keys.submitted(command.command_id), target],
            args=[self.result_ttl, 100_000, *flat],
        )

    async def begin(self, command_id: str) -> list[str]:
        """``["done", result]``, ``["run"]`` (the lease is ours) or ``["busy"]``."""
        answer = await self.scripts["begin"](
            keys=[self.keys.result(command_id), self.keys.lease(command_id)],
            args=[self.node, self.lease_ms],
        )
        return list(answer)

    async def finish(
        self, stream: str, entry_id: str, command_id: str, reply: str, result: str
    ) -> None:
        """The finish script: store the result once, reply, ack and delete the entry."""
        await self.scripts["finish"](
            keys=[
                self.keys.result(command_id or "-"),
                reply or self.keys.reply("-"),
                stream,
                self.keys.lease(command_id or "-"),
            ],
            args=[
                result,
                self.result_ttl,
                GROUP,
                entry_id,
                command_id,
                self.node,
                1000,
                self.events.last_sent,
                "1" if reply else "0",
            ],
        )

    async def forward(
        self, stream: str, entry_id: str, target: str, fields: dict[str, str], command_id: str
    ) -> None:
        """Move a command entry to another stream (its session's handler went away)."""
        pipe = self.redis.pipeline(transaction=True)
        pipe.xadd(target, fields, maxlen=100_000, approximate=True)
        pipe.xack(stream, GROUP, entry_id)
        pipe.xdel(stream, entry_id)
        pipe.delete(self.keys.lease(command_id))
        await pipe.execute()

    async def dead_letter(
        self,
        stream: str,
        entry_id: str,
        fields: dict[str, str],
        reason: str,
        deliveries: int | None = None,
    ) -> None:
        """Keep a record that cannot be handled in the dead-letter stream."""
        letter = {
            **{k: str(v) for k, v in fields.items()},
            "stream": stream,
            "entry": entry_id,
            "reason": reason,
            "node": self.node,
        }
        if deliveries is not None:
            letter["deliveries"] = str(deliveries)
        await self.call(self.redis.xadd, self.keys.dead, letter, maxlen=10_000, approximate=True)

    # -- loops --------------------------------------------------------------------

    def _start(self, name: str, step: Callable[[], Awaitable[None]]) -> None:
        self._tasks.append(self.spawn(self._loop(name, step), name))

    async def _loop(self, name: str, step: Callable[[], Awaitable[None]]) -> None:
        """Run ``step`` forever; a failure backs off and retries, never ends the loop."""
        backoff = Backoff()
        while name not in self._halted:
            try:
                await step()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if name in self._halted:  # a read interrupted by detach()
                    return
                if is_connection_error(exc):
                    self.lost(exc)
                elif is_nogroup(exc):
                    self._groups.clear()
                    self.worker.read_pending = True
                    if not self._nogroup_warned:  # once per outage, not once per loop
                        self._nogroup_warned = True
                        logger.warning(
                            "Consumer groups are missing in Redis (restarted without its "
                            "data?); recreating them"
                        )
                else:
                    logger.warning("%s: %s: %s", name, type(exc).__name__, exc, exc_info=True)
                await asyncio.sleep(backoff.next())
            else:
                backoff.reset()

    async def announce(self) -> None:
        """Say this node is alive, which command types it serves and which sessions it owns."""
        now = time.time()
        ttl_ms = int(self.liveness_ttl * 1000)
        pipe = self.redis.pipeline(transaction=False)
        pipe.set(self.keys.node(self.node), now, px=ttl_ms)
        pipe.zadd(self.keys.nodes, {self.node: now})
        for name in self._served_types:
            pipe.sadd(self.keys.handlers(name), self.node)
        for session, name in self._routes:
            pipe.hset(self.keys.route(session), name, self.node)
            pipe.pexpire(self.keys.route(session), ttl_ms * 4)
        await pipe.execute()

    async def _withdraw(self) -> None:
        pipe = self.redis.pipeline(transaction=False)
        pipe.delete(self.keys.node(self.node))
        pipe.zadd(self.keys.nodes, {self.node: time.time()})
        for name in self._served_types:
            pipe.srem(self.keys.handlers(name), self.node)
        for session, name in self._routes:
            pipe.hdel(self.keys.route(session), name)
        await pipe.execute()

    async def _heartbeat_step(self) -> None:
        await self.announce()
        self.recovered()
        if "llmgine-redis-heartbeat" in self._halted:
            return  # a cancel lost inside redis-py must not leave this loop waiting
        self._announce.clear()
        try:
            await asyncio.wait_for(self._announce.wait(), self.liveness_ttl / 3)
        except TimeoutError:
            pass

    def _read_replies_step(self) -> Callable[[], Awaitable[None]]:
        last = [f"{self.events.seen[0]}-0"]

        async def step() -> None:
            answer = await self.redis.xread({self.keys.reply(self.node): last[0]}, block=1000)
            for _, entries in self.stream_entries(answer):
                for entry_id, fields in entries:
                    last[0] = entry_id
                    if fields:
                        self.calls.on_reply(fields)

        return step

    async def _reclaim_step(self) -> None:
        await asyncio.sleep(min(5.0, max(0.05, self.claim_after / 2)))
        await self.worker.reclaim()
