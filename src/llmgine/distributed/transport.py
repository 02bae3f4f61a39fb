"""``RedisTransport``: the bus across processes and machines, on Redis Streams.

::

    from llmgine.distributed import RedisTransport

    await bus.attach(RedisTransport("redis://127.0.0.1:6379/0", events=[OrderPlaced]))
    ...
    await bus.detach()

Each attached bus is a *node*. A command with no handler on its node goes to
a node that has one (:mod:`llmgine.distributed.commands`); events of the
shared types reach every node (:mod:`llmgine.distributed.events`); nodes
beat a heartbeat and take over and clean up after the nodes that stopped
(:mod:`llmgine.distributed.nodes`). Every loop survives Redis going away: it
backs off (50 ms doubling to 2 s, jittered), reconnects, re-reads its own
pending entries and recreates missing consumer groups (Redis restarted
without its data) with one warning; the bus's handlers hear of it through a
:class:`~llmgine.bus.transport.TransportStatusEvent`. Run Redis with
``appendonly yes`` so that a restart keeps what was acknowledged.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import math
import os
import socket
from collections.abc import Awaitable, Callable, Coroutine, Iterable, Sequence
from typing import Any, Literal, TypeVar

from llmgine.bus.transport import TransportStatusEvent
from llmgine.distributed import scripts
from llmgine.distributed.cancel import Cancels
from llmgine.distributed.commands import CommandCaller
from llmgine.distributed.connection import (
    Backoff,
    attach_error,
    connect,
    is_connection_error,
    is_nogroup,
    masked_url,
    probe,
)
from llmgine.distributed.events import EventRelay
from llmgine.distributed.keys import GROUP, Keys
from llmgine.distributed.line import Line
from llmgine.distributed.nodes import NodeKeeper
from llmgine.distributed.worker import CommandWorker
from llmgine.errors import BusError, ConfigurationError, LLMgineError
from llmgine.messages.base import GLOBAL, ROOT
from llmgine.messages.commands import Command, CommandResult
from llmgine.messages.events import Event, ScheduledEvent
from llmgine.messages.trace import new_id

__all__ = ["RedisTransport", "masked_url"]

logger = logging.getLogger("llmgine.distributed")

T = TypeVar("T")


def _positive(seconds: object) -> bool:
    """Whether ``seconds`` is a finite number > 0 (not nan, not inf, not a bool)."""
    return (
        isinstance(seconds, int | float)
        and not isinstance(seconds, bool)
        and math.isfinite(seconds)
        and seconds > 0
    )


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
        max_concurrency: Most commands this node runs at once: it reads more
            from Redis only when one of them has finished, so the others queue
            for whichever node has room (a node does not take a whole backlog).
        outage_timeout: Most seconds ``execute`` keeps waiting while Redis
            cannot be reached (it is down, or the network is): then its result
            fails, saying so, whatever ``command_timeout`` is. The command may
            still run once Redis is back; its result is stored as usual.
        node_grace: Seconds after a node's heartbeat expired before the live
            nodes remove what it left (its consumers, inbox, reply stream and
            events group). Be generous: a node paused for longer is taken
            for gone and starts afresh when it comes back.
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
        node_grace: float = 3600.0,
        outage_timeout: float = 60.0,
        max_concurrency: int = 16,
    ) -> None:
        if not _positive(claim_after):
            raise ConfigurationError(
                f"claim_after must be a finite number of seconds > 0, got {claim_after!r}"
            )
        if command_timeout is not None and not _positive(command_timeout):
            raise ConfigurationError(
                f"command_timeout must be a finite number of seconds > 0 or None, "
                f"got {command_timeout!r}"
            )
        if max_deliveries < 1:
            raise ConfigurationError(f"max_deliveries must be >= 1, got {max_deliveries!r}")
        if not _positive(node_grace):
            raise ConfigurationError(
                f"node_grace must be a finite number of seconds > 0, got {node_grace!r}"
            )
        if not _positive(outage_timeout):
            raise ConfigurationError(
                f"outage_timeout must be a finite number of seconds > 0, got {outage_timeout!r}"
            )
        if isinstance(max_concurrency, bool) or not isinstance(max_concurrency, int):
            raise ConfigurationError(f"max_concurrency must be an int, got {max_concurrency!r}")
        if max_concurrency < 1:
            raise ConfigurationError(f"max_concurrency must be >= 1, got {max_concurrency!r}")
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
        self.node_grace = float(node_grace)
        self.outage_timeout = float(outage_timeout)
        self.max_concurrency = max_concurrency
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
        self.served_types: set[str] = set()  # command types with a ROOT handler here
        self.session_routes: set[tuple[str, str]] = set()  # (session, type) handled here
        self.unannounced_routes: set[tuple[str, str]] = set()  # not yet written to Redis
        self._halted: set[str] = set()
        self._nogroup_warned = False
        self._no_script: type[Exception] = Exception  # redis-py's NoScriptError once attached
        self._backoff = Backoff()
        # A connection of its own for each path every remote command takes (see line.py).
        self.reply_line = Line()  # the caller's submit and read of its reply stream
        self.read_line = Line()  # the worker's read of the streams it serves
        self.finish_line = Line()  # the worker's finish script (the pool's when busy)
        self.calls = CommandCaller(self)
        self.cancels = Cancels(self)
        self.worker = CommandWorker(self)
        self.events = EventRelay(self)
        self.nodes = NodeKeeper(self)

    def __repr__(self) -> str:
        return f"RedisTransport({masked_url(self.url)!r}, node={self.node!r})"

    # -- the Transport protocol -------------------------------------------------

    async def attach(self, bus: Any) -> None:
        """Connect, announce this node and start its loops.

        Raises:
            TransportError: Redis cannot be reached, wants a password, or refused
                (one line, the URL's password masked; nothing is left attached).
            ConfigurationError: redis-py is missing, or the URL is not a Redis URL.
        """
        if self.bus is not None:
            raise BusError(f"{self!r} is attached already; a transport serves one bus")
        await probe(self.url)  # a wrong URL or password: one clear error in seconds
        # Room for every loop, each running command's calls and this node's callers.
        self.redis = connect(self.url, max_connections=max(100, 2 * self.max_concurrency + 50))
        try:
            await self._start_node(bus)
        except BaseException as exc:
            await self._abandon()
            if isinstance(exc, Exception) and not isinstance(exc, LLMgineError):
                raise attach_error(self.url, exc) from exc
            raise
        logger.info("Attached to Redis at %s as node %s", masked_url(self.url), self.node)

    async def _start_node(self, bus: Any) -> None:
        """Attach's work once connected: groups, the announcement, the loops."""
        self.connected = True
        self.bus = bus
        self.closing = False
        self._halted = set()
        from redis.exceptions import NoScriptError

        self._no_script = NoScriptError
        self.scripts = {
            name.lower(): self.redis.register_script(getattr(scripts, name))
            for name in scripts.__all__
        }
        for line in self._lines:
            line.client = self.redis
        seconds, micros = await self.redis.time()
        self.events.seen = (seconds * 1000 + micros // 1000, 0)
        self.calls.last = f"{self.events.seen[0]}-0"
        self.handlers_changed()
        # Groups before announcing: nothing sent once attach() returns is missed.
        await self.ensure_groups(self.worker.streams, GROUP, "0")
        if self.shares_any:
            await self.ensure_groups([self.keys.events], self.keys.event_group(self.node), "$")
        await self.nodes.announce()
        self._start("llmgine-redis-heartbeat", self.nodes.heartbeat_step)
        self._start("llmgine-redis-replies", self.calls.read_replies)
        self._start("llmgine-redis-commands", self.worker.consume)
        self._start("llmgine-redis-claims", self.worker.keep_claims)
        self._start("llmgine-redis-reclaim", self._reclaim_step)
        if self.shares_any:
            self._start("llmgine-redis-events-out", self.events.send_batch)
            self._start("llmgine-redis-events-in", self.events.read)
            self._start("llmgine-redis-schedule", self.events.move_due)

    async def _abandon(self) -> None:
        """Undo a failed attach: no loop left running, the client closed, not attached."""
        self.closing = True
        await self._halt({task.get_name() for task in self._tasks})
        self._tasks.clear()
        try:
            await self._close_lines()
            await self.redis.aclose()
        except Exception as exc:
            logger.debug("could not close the Redis client: %s", exc)
        self.bus = None
        self.connected = False
        self._groups.clear()

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
            await asyncio.wait_for(self.nodes.withdraw(), 2.0)
        except Exception as exc:
            logger.debug("could not withdraw node %s from Redis: %s", self.node, exc)
        await self._close_lines()
        await self.redis.aclose()
        self.bus = None
        logger.info("Detached node %s from Redis", self.node)

    @property
    def _lines(self) -> tuple[Line, ...]:
        return (self.reply_line, self.read_line, self.finish_line)

    async def _close_lines(self) -> None:
        for line in self._lines:
            try:
                await line.close()
            except Exception as exc:  # closing a connection Redis dropped already
                logger.debug("could not close a Redis connection: %s", exc)

    async def _halt(self, names: set[str]) -> None:
        """End the loops of ``names``: flagged, cancelled, awaited (3 s at most)."""
        self._halted |= names
        tasks = [task for task in self._tasks if task.get_name() in names]
        for task in tasks:
            task.cancel()
        wakes = (self.nodes.wake, self.calls.wake, self.events.wake, self.events.schedule_wake)
        for wake in (*wakes, self.worker.room):
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
            answer = (shared == "all" or issubclass(event_type, shared)) and not issubclass(
                event_type,
                TransportStatusEvent,  # about this node's own connection
            )
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
        self.served_types = served
        self.worker.serve(sorted(served))
        session_routes = {
            (session, t._message_type) for t, session in routes if session not in (ROOT, GLOBAL)
        }
        self.unannounced_routes = (self.unannounced_routes & session_routes) | (
            session_routes - self.session_routes
        )
        self.session_routes = session_routes
        self.nodes.wake.set()

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
        """Redis went away: say so once; readers re-read their pending entries later.

        A full connection pool is not a lost connection: the call is retried, and
        said as what it is.
        """
        from redis.exceptions import MaxConnectionsError

        if isinstance(exc, MaxConnectionsError):
            logger.warning("Every connection to Redis is in use (%s); retrying", exc)
            return
        self.worker.read_pending = True
        self.events.read_pending = True
        self._nogroup_warned = False
        if self.connected:
            self.connected = False
            logger.warning(
                "Lost the connection to Redis at %s (%s); reconnecting",
                masked_url(self.url),
                exc,
            )
            self._status("lost", f"{type(exc).__name__}: {exc}")

    def recovered(self) -> None:
        """A Redis call worked again after an outage."""
        if not self.connected:
            self.connected = True
            self._backoff.reset()
            self.nodes.wake.set()
            logger.warning("Reconnected to Redis at %s", masked_url(self.url))
            self._status("recovered")

    def _status(self, status: str, detail: str = "") -> None:
        bus = self.bus
        if bus is not None and not self.closing and bus.has_handlers(TransportStatusEvent):
            bus.publish_nowait(
                TransportStatusEvent(
                    status=status, transport=repr(self), node=self.node, detail=detail
                )
            )

    def forget_groups(self, *, said: bool = False) -> None:
        """The consumer groups may be gone: recreate them, re-read pending entries.

        ``said``: the reason was logged already (no warning when a read meets a
        missing group).
        """
        self._groups.clear()
        self.worker.read_pending = True
        self.events.read_pending = True
        if said:
            self._nogroup_warned = True

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

    def script_command(self, name: str, keys: list[str], args: list[Any]) -> tuple[Any, ...]:
        """One of the scripts as a command for :meth:`on_line`."""
        return ("EVALSHA", self.scripts[name].sha, len(keys), *keys, *args)

    async def on_line(self, line: Line, *commands: Sequence[Any]) -> list[Any]:
        """Run ``commands`` on ``line`` (once more after loading lost scripts); their replies.

        Raises:
            redis.exceptions.ResponseError: Redis refused one of them (the first).
        """
        for attempt in range(2):
            replies = await line.execute(*commands)
            refused = next((reply for reply in replies if isinstance(reply, Exception)), None)
            if refused is None:
                return replies
            if attempt or not isinstance(refused, self._no_script):
                raise refused
            await self._load_scripts()  # Redis restarted: its script cache is empty
        raise AssertionError("unreachable")

    async def _load_scripts(self) -> None:
        for script in self.scripts.values():
            script.sha = await self.redis.script_load(script.script)

    def queue_script(self, pipe: Any, name: str, keys: list[str], args: list[Any]) -> None:
        """Queue one of the scripts on a pipeline (see :meth:`pipelined`)."""
        pipe.evalsha(self.scripts[name].sha, len(keys), *keys, *args)

    async def run_script(self, name: str, keys: list[str], args: list[Any]) -> Any:
        """Run one of the scripts (loaded again if Redis lost it)."""
        script = self.scripts[name]
        try:
            return await self.redis.evalsha(script.sha, len(keys), *keys, *args)
        except self._no_script:  # Redis restarted: its script cache is empty
            script.sha = await self.redis.script_load(script.script)
            return await self.redis.evalsha(script.sha, len(keys), *keys, *args)

    async def pipelined(self, build: Callable[[Any], None]) -> list[Any]:
        """Execute the pipeline ``build`` queues, once more after loading lost scripts.

        Scripts queued with :meth:`queue_script` cost no ``SCRIPT EXISTS`` round
        trip (redis-py's ``Script`` objects send one before each pipeline).
        """
        for attempt in range(2):
            pipe = self.redis.pipeline(transaction=False)
            build(pipe)
            try:
                return list(await pipe.execute())
            except self._no_script:  # Redis restarted: its script cache is empty
                if attempt:
                    raise
                await self._load_scripts()
        raise AssertionError("unreachable")

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
                    self.forget_groups()
                    if not self._nogroup_warned:
                        await self._explain_nogroup()
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

    async def _explain_nogroup(self) -> None:
        """Beat the heartbeat now: if this node was cleaned up, it says so (the reason)."""
        try:
            await self.nodes.announce()
        except Exception as exc:
            logger.debug("heartbeat after missing consumer groups failed: %s", exc)

    async def _reclaim_step(self) -> None:
        await asyncio.sleep(min(5.0, max(0.05, self.claim_after / 2)))
        await self.worker.reclaim()
        await self.nodes.tend()
