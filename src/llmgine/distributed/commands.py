"""Commands across nodes: the caller's side (route, submit, wait) and the handler's side.

Guarantees (each one tested against a real redis-server):

* the *result* of a command is produced once and every caller sees that one:
  ``result:{command_id}`` is written with ``SET NX`` by the same script that
  replies and acks, and a node that finds it stored re-sends it instead of
  running the handler again (``command_id`` is the idempotency key);
* a node killed mid-command leaves the entry pending; after ``claim_after``
  another node claims it (``XAUTOCLAIM``) and runs it; past ``max_deliveries``
  deliveries it goes to the dead-letter stream and the caller gets a failed
  result;
* a long command keeps its claim: its node renews the lease and resets the
  entry's idle time (``XCLAIM ... JUSTID``) while the handler runs;
* a cancelled caller cancels the command: never started, or its handler
  cancelled on its node (:mod:`llmgine.distributed.cancel`).

The handler's *side effects* are at least once within the crash window (a
crash after the effect and before the result is stored): handlers that must
not repeat one use ``command.command_id`` as their own idempotency key.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from llmgine.distributed.codec import decode_message, decode_result, encode_result
from llmgine.distributed.connection import is_connection_error
from llmgine.distributed.keys import GROUP
from llmgine.errors import NoCommandHandlerError, SerializationError
from llmgine.messages.base import GLOBAL, ROOT
from llmgine.messages.commands import Command, CommandResult

__all__ = ["CommandCaller", "CommandWorker", "failed_result"]

logger = logging.getLogger("llmgine.distributed")

_ROUTE_TTL = 1.0  # seconds a route lookup is reused
_CHECK_EVERY = 1.0  # seconds between a waiting caller's checks of the stored result


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
        alive = await t.alive(candidates)
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
        self._routes[key] = (target, time.monotonic() + _ROUTE_TTL)
        return target

    async def execute(self, command: Command) -> CommandResult:
        """Run ``command`` on a node that has a handler for it; never raises for remote failures."""
        t = self.t
        name = type(command).__name__
        command_id = command.command_id
        timeout = t.command_timeout
        deadline = None if timeout is None else time.monotonic() + timeout
        submit_by = deadline or time.monotonic() + max(30.0, t.claim_after)
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
                    await t.submit(target, command)
                    break
                except Exception as exc:
                    if not is_connection_error(exc) or t.closing:
                        raise
                    t.lost(exc)
                    if time.monotonic() > submit_by:
                        return failed_result(
                            command_id, command.session_id, f"could not send {name}: {exc}"
                        )
                    await asyncio.sleep(t.backoff_delay())
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
        await t.events.seen_up_to(reply.get("events") or "")
        return result

    async def _wait(
        self, command: Command, future: asyncio.Future[dict[str, str]], deadline: float | None
    ) -> dict[str, str] | CommandResult:
        t = self.t
        name = type(command).__name__
        result_key = t.keys.result(command.command_id)
        last_served_check = time.monotonic()
        while True:
            wait = _CHECK_EVERY
            if deadline is not None:
                wait = max(0.0, min(wait, deadline - time.monotonic()))
            await asyncio.wait((future,), timeout=wait)  # no shield task: this is per command
            if future.done():
                return future.result()
            if t.closing:
                return failed_result(
                    command.command_id, command.session_id, f"{name}: the transport was detached"
                )
            try:
                stored = await t.redis.get(result_key)  # a reply lost while disconnected
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
                if deadline is not None and time.monotonic() >= deadline:
                    return failed_result(
                        command.command_id,
                        command.session_id,
                        f"no answer to {name} within {t.command_timeout:g} s (Redis: {exc})",
                    )

    async def give_up(self, command: Command, error: str) -> CommandResult:
        """Store a failed result for ``command`` (unless a real one got there first)."""
        t = self.t
        result = failed_result(command.command_id, command.session_id, error)
        key = t.keys.result(command.command_id)
        if await t.redis.set(key, encode_result(result), nx=True, ex=t.result_ttl):
            self._routes.pop((type(command), command.session_id), None)
            return result
        stored = await t.redis.get(key)
        return decode_result(stored) if stored else result

    def on_reply(self, fields: dict[str, str]) -> None:
        """A reply arrived on this node's reply stream."""
        future = self.waiting.get(fields.get("id", ""))
        if future is not None and not future.done():
            future.set_result(fields)


class CommandWorker:
    """Reads the commands this node serves, runs them, and reclaims those of dead nodes."""

    def __init__(self, transport: Any) -> None:  # the RedisTransport (no import: no cycle)
        self.t = transport
        self.streams: list[str] = []
        self.inflight: dict[tuple[str, str], asyncio.Task[None]] = {}
        self.read_pending = True

    def serve(self, type_names: list[str]) -> None:
        """Serve this node's inbox and the streams of ``type_names`` (ROOT handlers)."""
        t = self.t
        self.streams = [t.keys.inbox(t.node), *(t.keys.commands(n) for n in type_names)]

    async def consume(self) -> None:
        """One read of the served streams: this node's pending entries first, then new ones."""
        t = self.t
        streams = list(self.streams)
        await t.ensure_groups(streams, GROUP, "0")
        if self.read_pending:
            answer = await t.redis.xreadgroup(
                GROUP, t.node, dict.fromkeys(streams, "0"), count=1000
            )
            self.read_pending = False
        else:
            answer = await t.redis.xreadgroup(
                GROUP, t.node, dict.fromkeys(streams, ">"), count=32, block=1000
            )
        for stream, entries in t.stream_entries(answer):
            for entry_id, fields in entries:
                self.spawn(stream, entry_id, fields)

    def spawn(self, stream: str, entry_id: str, fields: dict[str, str] | None) -> None:
        """Handle one entry in a task of its own (once per entry at a time)."""
        key = (stream, entry_id)
        if key in self.inflight:
            return
        task = self.t.spawn(self.handle(stream, entry_id, fields or {}), f"llmgine-cmd-{entry_id}")
        self.inflight[key] = task
        task.add_done_callback(lambda _: self.inflight.pop(key, None))

    async def handle(self, stream: str, entry_id: str, fields: dict[str, str]) -> None:
        """Run one command entry to its end: result stored, replied, acked."""
        t = self.t
        command_id = fields.get("id", "")
        reply = fields.get("reply", "")
        if not fields:  # an entry deleted while pending
            await t.call(t.redis.xack, stream, GROUP, entry_id)
            return
        if "cancel" in fields:  # a caller cancelled a command this node runs
            await t.cancels.on_entry(stream, entry_id, fields["cancel"])
            return
        try:
            command = decode_message(fields, Command)
        except SerializationError as exc:
            logger.warning("Dead-lettered command record %s of %s: %s", entry_id, stream, exc)
            await t.dead_letter(stream, entry_id, fields, str(exc))
            failed = failed_result(command_id or None, None, f"cannot decode the command: {exc}")
            await self.finish(stream, entry_id, command_id, reply, encode_result(failed))
            return
        command_id = command.command_id
        while True:
            state = await t.call(t.begin, command_id)
            if state[0] == "done":  # it ran already: send the stored result again
                await self.finish(stream, entry_id, command_id, reply, state[1])
                return
            if state[0] == "run":
                break
            # Another live execution holds the lease: keep our claim until it ends.
            await t.call(self.keep_claim, stream, entry_id, command_id, False)
            await asyncio.sleep(t.heartbeat_every)
        keeper = t.spawn(self.keep_claiming(stream, entry_id, command_id), "llmgine-cmd-claim")
        try:
            result = await self.run(stream, entry_id, command, fields)
        finally:
            keeper.cancel()
        if result is None:
            return
        await t.events.flush()  # the command's events before its result
        await self.finish(stream, entry_id, command_id, reply, encode_result(result))

    async def run(
        self, stream: str, entry_id: str, command: Command, fields: dict[str, str]
    ) -> CommandResult | None:
        """The command's result from this node's handler (None: sent on to another node)."""
        t = self.t
        try:
            return await t.cancels.run(command, t.bus.execute_here(command))
        except NoCommandHandlerError:
            pass
        name = type(command).__name__
        if stream == t.keys.inbox(t.node):  # the session's handler is gone: any ROOT one
            target = await t.call(t.calls.route, command, cached=False, sessions=False)
            if target is not None:
                await t.call(t.forward, stream, entry_id, target, fields, command.command_id)
                return None
        return failed_result(
            command.command_id,
            command.session_id,
            f"node {t.node} has no handler for {name} (session {command.session_id!r})",
        )

    async def finish(
        self, stream: str, entry_id: str, command_id: str, reply: str, result: str
    ) -> None:
        """Store, reply, ack (retried until Redis takes it or the transport closes)."""
        t = self.t
        await t.call(t.finish, stream, entry_id, command_id, reply, result)

    async def keep_claiming(self, stream: str, entry_id: str, command_id: str) -> None:
        """While a handler runs: renew the lease and the entry's claim."""
        t = self.t
        while True:
            await asyncio.sleep(t.heartbeat_every)
            try:
                await self.keep_claim(stream, entry_id, command_id, True)
            except Exception as exc:
                if not is_connection_error(exc):
                    raise
                t.lost(exc)

    async def keep_claim(self, stream: str, entry_id: str, command_id: str, lease: bool) -> None:
        """Reset the entry's idle time (and renew the lease when it is ours)."""
        t = self.t
        pipe = t.redis.pipeline(transaction=False)
        pipe.xclaim(stream, GROUP, t.node, 0, [entry_id], justid=True)
        if lease:
            await t.scripts["renew"](  # queued on the pipeline
                keys=[t.keys.lease(command_id)], args=[t.node, t.lease_ms], client=pipe
            )
        await pipe.execute()

    async def reclaim(self) -> None:
        """Claim the entries other nodes left idle for ``claim_after`` (a dead or stuck node)."""
        t = self.t
        for stream in list(self.streams):
            start = "0-0"
            while True:
                answer = await t.redis.xautoclaim(
                    stream, GROUP, t.node, t.claim_ms, start_id=start, count=100
                )
                start, claimed = answer[0], answer[1]
                for entry_id, fields in claimed:
                    if (stream, entry_id) in self.inflight:
                        continue
                    deliveries = await self.deliveries(stream, entry_id)
                    if deliveries > t.max_deliveries:
                        await self.bury(stream, entry_id, fields or {}, deliveries)
                    else:
                        self.spawn(stream, entry_id, fields)
                if start in ("0-0", "0"):
                    break

    async def deliveries(self, stream: str, entry_id: str) -> int:
        """How many times an entry has been delivered."""
        pending = await self.t.redis.xpending_range(stream, GROUP, entry_id, entry_id, 1)
        return int(pending[0]["times_delivered"]) if pending else 1

    async def bury(self, stream: str, entry_id: str, fields: dict[str, Any], count: int) -> None:
        """Dead-letter a command delivered too often; its caller gets a failed result."""
        t = self.t
        name = type_name = fields.get("type") or "command"
        try:
            name = decode_message(fields, Command).__class__.__name__
        except SerializationError:
            pass
        error = (
            f"{name} was delivered {count} times (max_deliveries={t.max_deliveries}) without "
            "finishing: its handler's node died each time; dead-lettered"
        )
        logger.warning("Dead-lettered %s %s of %s: %s", type_name, entry_id, stream, error)
        await t.dead_letter(stream, entry_id, fields, error, deliveries=count)
        command_id = fields.get("id", "")
        failed = failed_result(command_id or None, None, error)
        await self.finish(
            stream, entry_id, command_id, fields.get("reply", ""), encode_result(failed)
        )

    async def wait_inflight(self, seconds: float) -> None:
        """Let running commands finish for ``seconds``, then cancel them."""
        tasks = list(self.inflight.values())
        if not tasks:
            return
        done, pending = await asyncio.wait(tasks, timeout=seconds)
        for task in pending:
            task.cancel()
        if pending:
            logger.warning(
                "%d command(s) still running at detach were cancelled; another node "
                "runs them after claim_after",
                len(pending),
            )
            await asyncio.gather(*pending, return_exceptions=True)
