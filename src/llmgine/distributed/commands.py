"""Commands across nodes: the caller's side (route, submit, wait for the reply).

Guarantees (each one tested against a real redis-server):

* the *result* of a command is produced once and every caller sees that one:
  ``result:{command_id}`` is written with ``SET NX`` by the same script that
  replies and acks (``command_id`` is the idempotency key). The submit script
  enqueues a command id once: a command that finished is answered from its
  stored result, one still queued or running is not queued again;
* a node killed mid-command leaves the entry pending; after ``claim_after``
  another node claims it (``XAUTOCLAIM``) and runs it, first checking for a
  stored result; past ``max_deliveries`` deliveries it goes to the dead-letter
  stream and the caller gets a failed result;
* a long command keeps its claim: its node renews the lease and resets the
  entry's idle time (``XCLAIM ... JUSTID``) while the handler runs;
* a caller that gives up (``command_timeout``, or no node serves the type any
  more) stores a failed result and withdraws the entry if no node has taken
  it yet, so it never runs;
* a cancelled caller cancels the command: withdrawn if no node has read it,
  or its handler cancelled on its node (:mod:`llmgine.distributed.cancel`).

The handler's *side effects* are at least once within the crash window (a
crash after the effect and before the result is stored): handlers that must
not repeat one use ``command.command_id`` as their own idempotency key.

One round trip per call when nothing else is waiting: the submit script and
a blocking read of the node's reply stream go in one write, on a connection
of their own (:class:`~llmgine.distributed.line.Line`). Otherwise one task
reads the reply stream for every waiting call (and sleeps while none is).
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from llmgine.distributed.codec import decode_result, encode_message, encode_result
from llmgine.distributed.connection import is_connection_error, masked_url
from llmgine.distributed.keys import GROUP
from llmgine.distributed.line import entries
from llmgine.errors import SerializationError
from llmgine.messages.base import GLOBAL, ROOT
from llmgine.messages.commands import Command, CommandResult

__all__ = ["CommandCaller", "command_type_names", "failed_result"]

_ROUTE_TTL = 1.0  # seconds a route lookup is reused
_MAX_ROUTES = 4096  # route lookups kept (a long-lived front end has a session per tab)
_CHECK_EVERY = 1.0  # seconds between a waiting caller's checks of the stored result
_BLOCK_MS = 1000  # longest blocking read of the reply stream


def failed_result(command_id: str | None, session_id: str | None, error: str) -> CommandResult:
    """A failed ``CommandResult`` made by the transport (not by a handler)."""
    return CommandResult(
        success=False,
        command_id=command_id,
        session_id=session_id,
        error=error,
        metadata={"finished_in": "llmgine.distributed"},
    )


def command_type_names(command_type: type[Command]) -> list[str]:
    """The registry names of a command type and its bases, most specific first."""
    return [
        cls._message_type
        for cls in command_type.__mro__
        if isinstance(cls, type) and issubclass(cls, Command)
    ]


class CommandCaller:
    """Sends the commands this node has no handler for, and waits for their results."""

    def __init__(self, transport: Any) -> None:  # the RedisTransport (no import: no cycle)
        self.t = transport
        self.waiting: dict[str, asyncio.Future[dict[str, str]]] = {}
        self.last = "0-0"  # the last entry read from this node's reply stream
        self.reading = False  # a blocking read of the reply stream is out
        self.wake = asyncio.Event()  # the reader: calls wait and nobody reads
        self._routes: dict[tuple[type[Command], str], tuple[str | None, float]] = {}

    async def route(
        self, command: Command, *, cached: bool = True, sessions: bool = True
    ) -> str | None:
        """The stream to send ``command`` to (None: no live node serves it).

        The inbox of the live node with a handler in the command's session,
        else the stream of the first type of its MRO a live node has a ROOT
        handler for. ``sessions=False`` skips the session's handlers.
        """
        key = (type(command), command.session_id if sessions else ROOT)
        hit = self._routes.get(key) if cached else None
        if hit is not None and hit[1] > time.monotonic():
            return hit[0]
        t = self.t
        names = command_type_names(type(command))
        session = command.session_id
        by_session = sessions and session not in (ROOT, GLOBAL)
        pipe = t.redis.pipeline(transaction=False)
        if by_session:
            pipe.hmget(t.keys.route(session), names)
        for name in names:
            pipe.smembers(t.keys.handlers(name))
        answers = await pipe.execute()
        owners: list[str | None] = list(answers.pop(0)) if by_session else []
        members: list[set[str]] = answers
        candidates = sorted({n for n in owners if n} | {n for ms in members for n in ms})
        alive = await t.nodes.alive(candidates)
        target: str | None = None
        for owner in owners:
            if owner and owner in alive:
                target = t.keys.inbox(owner)
                break
        else:
            for name, nodes in zip(names, members, strict=True):
                if nodes & alive:
                    target = t.keys.commands(name)
                    break
        if not by_session or (target is not None and t.keys.is_inbox(target)):
            # A session's command sent to its type's stream is not cached: the node that
            # runs it may take the session (its engine keeps the conversation), and the
            # next turn must go to that node's inbox, not to any node.
            now = time.monotonic()
            if len(self._routes) >= _MAX_ROUTES:  # one per session: forget the expired
                self._routes = {k: v for k, v in self._routes.items() if v[1] > now}
                if len(self._routes) >= _MAX_ROUTES:
                    self._routes.clear()
            self._routes[key] = (target, now + _ROUTE_TTL)
        return target

    async def execute(self, command: Command) -> CommandResult:
        """Run ``command`` on a node that has a handler for it; never raises for remote failures."""
        t = self.t
        name = type(command).__name__
        command_id = command.command_id
        timeout = t.command_timeout
        deadline = None if timeout is None else time.monotonic() + timeout
        started = time.monotonic()
        submit_by = min(deadline or float("inf"), time.monotonic() + t.outage_timeout)
        future: asyncio.Future[dict[str, str]] = asyncio.get_running_loop().create_future()
        self.waiting[command_id] = future  # before the submit: a fast reply is not missed
        try:
            while True:
                try:
                    target = await self.route(command)
                    if target is None:
                        if timeout is None:
                            return failed_result(
                                command_id,
                                command.session_id,
                                f"no node serves {name}: no attached node has a handler for it "
                                + (
                                    "(in ROOT)"
                                    if command.session_id == ROOT
                                    else f"(in session {command.session_id!r} or ROOT)"
                                ),
                            )
                        target = t.keys.commands(type(command)._message_type)
                    await self.submit(target, command)
                    break
                except Exception as exc:
                    if not is_connection_error(exc):
                        raise
                    if t.closing:  # detach() closed the connection this call was using
                        return self.detached(command)
                    t.lost(exc)
                    if time.monotonic() > submit_by:
                        return self.unreachable(command, time.monotonic() - started, exc)
                    await asyncio.sleep(t.backoff_delay())
            if future.cancelled():  # by detach()
                reply: dict[str, str] | CommandResult = self.detached(command)
            elif future.done():
                reply = future.result()
            else:
                reply = await self._wait(command, future, deadline)
        except asyncio.CancelledError:
            task = asyncio.current_task()
            if not t.closing and task is not None and task.cancelling():
                await t.cancels.request(command)  # as a local handler would be cancelled
            raise
        finally:
            self.waiting.pop(command_id, None)
        if isinstance(reply, CommandResult):
            return reply
        try:
            result = decode_result(reply["result"])
        except SerializationError as exc:
            return failed_result(command_id, command.session_id, str(exc))
        if reply.get("events"):
            await t.events.seen_up_to(reply["events"])
        return result

    async def submit(self, target: str, command: Command) -> None:
        """Enqueue ``command`` on ``target`` (once per command id); read replies if nobody does."""
        t = self.t
        command_id = command.command_id
        reply = t.keys.reply(t.node)
        keys = [
            t.keys.submitted(command_id),
            target,
            t.keys.result(command_id),
            t.keys.lease(command_id),
            reply,
        ]
        # The entry: {"id": command_id, "data": the command, "origin": this node}.
        args = [t.result_ttl, command_id, encode_message(command), t.node]
        if self.reading:  # the reply stream is being read already: only submit
            await t.run_script("submit", keys, args)
            return
        self.reading = True
        try:
            answers = await t.on_line(
                t.reply_line, t.script_command("submit", keys, args), self._read_command()
            )
            self.dispatch(answers[1])
        finally:
            self.reading = False
            self.hand_over()

    def _read_command(self) -> tuple[Any, ...]:
        """The blocking read of this node's reply stream, after the last entry read."""
        return ("XREAD", "BLOCK", _BLOCK_MS, "STREAMS", self.t.keys.reply(self.t.node), self.last)

    def hand_over(self) -> None:
        """Wake the reader when calls wait for replies and nobody reads them."""
        if self.waiting and not self.reading:
            self.wake.set()

    async def read_replies(self) -> None:
        """One step of the reader: a blocking read of the reply stream, or sleep until needed."""
        t = self.t
        if self.reading or not self.waiting:
            if "llmgine-redis-replies" in t.halted:
                return
            self.wake.clear()
            await self.wake.wait()
            return
        self.reading = True
        try:
            self.dispatch((await t.on_line(t.reply_line, self._read_command()))[0])
        finally:
            self.reading = False

    def dispatch(self, answer: Any) -> None:
        """Hand the replies read (a raw ``XREAD`` reply) to the calls waiting for them."""
        for _, read in entries(answer):
            for entry_id, fields in read:
                self.last = entry_id
                if fields:  # answered calls leave ``waiting`` now: the reader may sleep
                    future = self.waiting.pop(fields.get("id", ""), None)
                    if future is not None and not future.done():
                        future.set_result(fields)

    async def _wait(
        self, command: Command, future: asyncio.Future[dict[str, str]], deadline: float | None
    ) -> dict[str, str] | CommandResult:
        t = self.t
        name = type(command).__name__
        result_key = t.keys.result(command.command_id)
        last_served_check = time.monotonic()
        outage_since: float | None = None  # Redis unreachable since (monotonic)
        while True:
            self.hand_over()
            wait = _CHECK_EVERY
            if deadline is not None:
                wait = max(0.0, min(wait, deadline - time.monotonic()))
            await asyncio.wait((future,), timeout=wait)  # no shield task: this is per command
            if future.done() and not future.cancelled():
                return future.result()
            if t.closing:
                return self.detached(command)
            try:
                stored = await t.redis.get(result_key)  # a reply lost while disconnected
                outage_since = None
                if stored:
                    return {"result": stored, "events": ""}
                if deadline is not None and time.monotonic() >= deadline:
                    return await self.give_up(
                        command, f"no node answered {name} within {t.command_timeout:g} s"
                    )
                if deadline is None and time.monotonic() - last_served_check > t.liveness_ttl:
                    last_served_check = time.monotonic()
                    running = await t.redis.exists(t.keys.lease(command.command_id))
                    if not running and await self.route(command, cached=False) is None:
                        return await self.give_up(command, f"no node serves {name} any more")
            except Exception as exc:
                if not is_connection_error(exc):
                    raise
                t.lost(exc)
                now = time.monotonic()
                if deadline is not None and now >= deadline:
                    return failed_result(
                        command.command_id,
                        command.session_id,
                        f"no answer to {name} within {t.command_timeout:g} s (Redis: {exc})",
                    )
                if outage_since is None:
                    outage_since = now
                elif now - outage_since >= t.outage_timeout:
                    return self.unreachable(command, now - outage_since, exc)

    @staticmethod
    def detached(command: Command) -> CommandResult:
        """The failed result of a call still waiting when its transport was detached."""
        return failed_result(
            command.command_id,
            command.session_id,
            f"{type(command).__name__}: the transport was detached before its result came",
        )

    def unreachable(self, command: Command, seconds: float, exc: BaseException) -> CommandResult:
        """The failed result of a call that gave up because Redis stayed unreachable."""
        t = self.t
        return failed_result(
            command.command_id,
            command.session_id,
            f"gave up waiting for {type(command).__name__}: Redis at {masked_url(t.url)} was "
            f"unreachable for {seconds:.0f} s (outage_timeout={t.outage_timeout:g}; {exc})",
        )

    async def give_up(self, command: Command, error: str) -> CommandResult:
        """Store a failed result (unless a real one got there first); withdraw the entry."""
        t = self.t
        result = failed_result(command.command_id, command.session_id, error)
        keys = [t.keys.result(command.command_id), t.keys.submitted(command.command_id)]
        stored = await t.run_script("give_up", keys, [encode_result(result), t.result_ttl, GROUP])
        if not stored:
            self._routes.pop((type(command), command.session_id), None)
            return result
        return decode_result(stored)
