"""Commands across nodes, the handler's side: read, run, finish, keep claims, reclaim.

A command read for the first time (``XREADGROUP ... >``) runs at once: it is the
one entry of its ``command_id`` (the submit script enqueues an id once, and
not again while it is queued, running or finished). Only a *redelivered* entry
(claimed from a silent node, taken over from a dead node's inbox, or re-read
after a reconnect) first runs the begin script, which answers it from the
stored result or waits for a live execution's lease. The finish script stores
the result with ``SET NX``, so even an entry added to a stream by hand with a
used ``command_id`` can only re-send the first result. While commands run,
one loop renews all their claims (``XCLAIM ... JUSTID``) and leases.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from llmgine.distributed.codec import decode_message, encode_result
from llmgine.distributed.commands import failed_result
from llmgine.distributed.connection import is_connection_error
from llmgine.distributed.keys import GROUP
from llmgine.distributed.line import entries
from llmgine.errors import NoCommandHandlerError, SerializationError
from llmgine.messages.commands import Command, CommandResult

__all__ = ["CommandWorker"]

logger = logging.getLogger("llmgine.distributed")


class CommandWorker:
    """Reads the commands this node serves, runs them, and reclaims those of dead nodes."""

    def __init__(self, transport: Any) -> None:  # the RedisTransport (no import: no cycle)
        self.t = transport
        self.streams: list[str] = []
        self.inflight: dict[tuple[str, str], asyncio.Task[None]] = {}
        #: (stream, entry) -> (command id, whether the lease is ours to keep)
        self.claims: dict[tuple[str, str], tuple[str, bool]] = {}
        #: command ids whose lease this node may hold (taken, or renewal sent)
        self.leased: set[str] = set()
        self.read_pending = True
        self.room = asyncio.Event()  # set when a running command ends (a slot is free)

    def free_slots(self) -> int:
        """How many more commands this node may start (``max_concurrency``)."""
        return int(self.t.max_concurrency) - len(self.inflight)

    def serve(self, type_names: list[str]) -> None:
        """Serve this node's inbox and the streams of ``type_names`` (ROOT handlers)."""
        t = self.t
        self.streams = [t.keys.inbox(t.node), *(t.keys.commands(n) for n in type_names)]

    async def consume(self) -> None:
        """One read of the served streams: this node's pending entries first, then new ones."""
        t = self.t
        streams = self.streams
        await t.ensure_groups(streams, GROUP, "0")
        first = not self.read_pending
        if first:
            free = self.free_slots()
            if free <= 0:  # read on only when a command ends: others may take the rest
                self.room.clear()
                try:
                    await asyncio.wait_for(self.room.wait(), 1.0)
                except TimeoutError:
                    pass
                return
            new = (">",) * len(streams)
            read = ("COUNT", min(32, free), "BLOCK", 1000, "STREAMS", *streams, *new)
        else:  # entries delivered to this node before (a restart, a lost connection)
            read = ("COUNT", 1000, "STREAMS", *streams, *("0",) * len(streams))
        answer = (await t.on_line(t.read_line, ("XREADGROUP", "GROUP", GROUP, t.node, *read)))[0]
        if not first:
            self.read_pending = False
        spawned = False
        for stream, items in entries(answer):
            for entry_id, fields in items:
                self.spawn(stream, entry_id, fields, first)
                spawned = True
        if spawned:  # let the handlers start (a quick one sends its result) before reading on
            await asyncio.sleep(0)

    def spawn(self, stream: str, entry_id: str, fields: dict[str, str] | None, first: bool) -> None:
        """Handle one entry in a task of its own (once per entry at a time)."""
        key = (stream, entry_id)
        if key in self.inflight:
            return
        task = self.t.spawn(
            self.handle(stream, entry_id, fields or {}, first), f"llmgine-cmd-{entry_id}"
        )
        self.inflight[key] = task
        task.add_done_callback(lambda _: self._done(key))

    def _done(self, key: tuple[str, str]) -> None:
        self.inflight.pop(key, None)
        claim = self.claims.pop(key, None)
        if claim is not None:
            self.leased.discard(claim[0])
        self.room.set()

    async def handle(self, stream: str, entry_id: str, fields: dict[str, str], first: bool) -> None:
        """Run one command entry to its end: result stored, replied, acked."""
        t = self.t
        command_id = fields.get("id", "")
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
            await self.finish(stream, entry_id, fields, encode_result(failed), command_id)
            return
        command_id = command.command_id
        key = (stream, entry_id)
        if not first:
            self.claims[key] = (command_id, False)
            while True:
                state = await t.call(self.begin, command_id)
                if state[0] == "done":  # it ran already: send the stored result again
                    await self.finish(stream, entry_id, fields, state[1], command_id)
                    return
                if state[0] == "run":
                    self.leased.add(command_id)
                    break
                # Another live execution holds the lease: keep our claim until it ends.
                await asyncio.sleep(t.heartbeat_every)
        self.claims[key] = (command_id, True)
        result = await self.run(stream, entry_id, command, fields)
        if result is None:
            return
        if t.events.outbox:  # the command's events before its result (not later ones)
            await t.events.sent_up_to(t.events.queued)
        await self.finish(
            stream, entry_id, fields, encode_result(result), command_id, command.session_id
        )

    async def begin(self, command_id: str) -> list[str]:
        """``["done", result]``, ``["run"]`` (the lease is ours) or ``["busy"]``."""
        t = self.t
        keys = [t.keys.result(command_id), t.keys.lease(command_id)]
        return list(await t.run_script("begin", keys, [t.node, t.lease_ms]))

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
        session = command.session_id
        error = f"node {t.node} has no handler for {name} (session {session!r})"
        if t.keys.is_inbox(stream):
            # A session handler's command whose handler is gone (ours), or whose node is
            # gone (taken over): any node with a handler for it now.
            own = stream == t.keys.inbox(t.node)
            target = await t.call(t.calls.route, command, cached=False, sessions=not own)
            if target is not None and target != stream:
                await t.call(self.forward, stream, entry_id, target, fields, command.command_id)
                return None
            if not own:
                error = f"no node serves {name} any more (the node of session {session!r} is gone)"
        return failed_result(command.command_id, session, error)

    async def finish(
        self,
        stream: str,
        entry_id: str,
        fields: dict[str, str],
        result: str,
        command_id: str,
        session: str | None = None,
    ) -> None:
        """The finish script: store the result once, reply, ack and delete the entry.

        A handler the command registered in its ``session`` (a worker keeps the
        session's engine) is written to ``route:{session}`` first, in the same
        round trip: the caller's next command of the session, sent as soon as
        this result arrives, goes to this node (not to the next heartbeat's).
        Retried through connection errors until Redis takes it or the transport closes.
        """
        t = self.t
        origin = fields.get("origin", "")
        keys = [
            t.keys.result(command_id or "-"),
            t.keys.reply(origin) if origin else "",  # an entry added by hand: no caller
            stream,
            t.keys.lease(command_id) if command_id in self.leased else "",
            t.keys.nodes,
        ]
        args = [
            result,
            t.result_ttl,
            entry_id,
            command_id,
            t.node,
            t.events.last_sent,
            origin,
        ]
        routes = (
            [name for owned, name in t.unannounced_routes if owned == session] if session else []
        )
        if not routes or session is None:
            await t.call(self._finish, keys, args)
            return
        route = t.keys.route(session)

        def build(pipe: Any) -> None:
            for name in routes:
                pipe.hset(route, name, t.node)
            pipe.pexpire(route, int(t.liveness_ttl * 4000))  # as the heartbeat's
            t.queue_script(pipe, "finish", keys, args)

        await t.call(t.pipelined, build)
        t.unannounced_routes.difference_update((session, name) for name in routes)

    async def _finish(self, keys: list[str], args: list[Any]) -> Any:
        t = self.t
        if t.finish_line.busy:  # another command finishes right now: a pooled connection
            return await t.run_script("finish", keys, args)
        return (await t.on_line(t.finish_line, t.script_command("finish", keys, args)))[0]

    async def forward(
        self, stream: str, entry_id: str, target: str, fields: dict[str, str], command_id: str
    ) -> None:
        """Move a command entry to ``target``, counting the deliveries it had here."""
        t = self.t
        moved = dict(fields)
        deliveries = await self.deliveries(stream, entry_id, fields)
        if deliveries > 1:
            moved["prior"] = str(deliveries)
        flat = [item for pair in moved.items() for item in pair]
        keys = [stream, target, t.keys.lease(command_id), t.keys.submitted(command_id)]
        await t.run_script("forward", keys, [entry_id, *flat])

    # -- claims ---------------------------------------------------------------

    async def keep_claims(self) -> None:
        """One step of the claims loop: renew the claims (and leases) of running commands."""
        t = self.t
        await asyncio.sleep(t.heartbeat_every)
        claims = list(self.claims.items())
        if not claims:
            return
        by_stream: dict[str, list[str]] = {}
        for (stream, entry_id), _ in claims:
            by_stream.setdefault(stream, []).append(entry_id)

        def build(pipe: Any) -> None:
            for stream, ids in by_stream.items():
                pipe.xclaim(stream, GROUP, t.node, 0, ids, justid=True)
            for _, (command_id, lease) in claims:
                if lease:
                    self.leased.add(command_id)  # before it can be taken: finish drops it
                    keys = [t.keys.lease(command_id), t.keys.result(command_id)]
                    t.queue_script(pipe, "renew", keys, [t.node, t.lease_ms])

        try:
            await t.pipelined(build)
        except Exception as exc:
            if not is_connection_error(exc):
                raise
            t.lost(exc)

    async def reclaim(self) -> None:
        """Claim the entries other nodes left idle for ``claim_after`` (a dead or stuck node)."""
        for stream in list(self.streams):
            await self.claim_idle(stream)

    async def take_over(self, inbox: str) -> None:
        """Take the commands of a dead node's inbox: unread ones now, running ones when idle."""
        t = self.t
        await t.ensure_groups([inbox], GROUP, "0")
        await self.claim_idle(inbox)
        free = self.free_slots()
        if free <= 0:
            return  # the next pass takes them
        answer = await t.redis.xreadgroup(GROUP, t.node, {inbox: ">"}, count=min(100, free))
        for stream, items in t.stream_entries(answer):
            for entry_id, fields in items:
                self.spawn(stream, entry_id, fields, True)

    async def claim_idle(self, stream: str) -> None:
        """Claim the entries of ``stream`` idle for ``claim_after``; bury those tried too often."""
        t = self.t
        start = "0-0"
        while True:
            free = self.free_slots()
            if free <= 0:
                return  # the next pass (or another node) claims the rest
            answer = await t.redis.xautoclaim(
                stream, GROUP, t.node, t.claim_ms, start_id=start, count=min(100, free)
            )
            start, claimed = answer[0], answer[1]
            for entry_id, fields in claimed:
                if (stream, entry_id) in self.inflight:
                    continue
                deliveries = await self.deliveries(stream, entry_id, fields or {})
                if deliveries > t.max_deliveries:
                    await self.bury(stream, entry_id, fields or {}, deliveries)
                else:
                    self.spawn(stream, entry_id, fields, False)
            if start in ("0-0", "0"):
                break

    async def deliveries(self, stream: str, entry_id: str, fields: dict[str, str]) -> int:
        """How many times an entry has been delivered (counting those before a forward)."""
        pending = await self.t.redis.xpending_range(stream, GROUP, entry_id, entry_id, 1)
        here = int(pending[0]["times_delivered"]) if pending else 1
        try:
            prior = int(fields.get("prior") or 0)
        except ValueError:
            prior = 0
        return here + prior

    async def bury(self, stream: str, entry_id: str, fields: dict[str, Any], count: int) -> None:
        """Dead-letter a command delivered too often; its caller gets a failed result."""
        t = self.t
        try:
            name = type_name = decode_message(fields, Command).__class__.__name__
        except SerializationError:
            name = type_name = fields.get("type") or "command"
        error = (
            f"{name} was delivered {count} times (max_deliveries={t.max_deliveries}) without "
            "finishing: its handler's node died each time; dead-lettered"
        )
        logger.warning("Dead-lettered %s %s of %s: %s", type_name, entry_id, stream, error)
        await t.dead_letter(stream, entry_id, fields, error, deliveries=count)
        command_id = fields.get("id", "")
        failed = failed_result(command_id or None, None, error)
        await self.finish(stream, entry_id, fields, encode_result(failed), command_id)

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
