"""Cancelling a remote command: a cancelled caller cancels the handler on the other node.

In one process, cancelling the task that awaits ``bus.execute(cmd)`` cancels
the handler (it runs inside that task). Across nodes the handler runs
elsewhere, so the caller's side does what a cancel would:

1. one script stores a failed result for the command (``SET NX``: unless a
   real one got there first) and withdraws its entry if no node has read it,
   so it never runs (a redelivered copy finds the result and re-sends it);
2. if a node has read the entry (it is running the command), the caller adds
   a ``cancel`` entry to that node's inbox; the node cancels the handler's
   task, and the command's entry is acknowledged and finished as any command
   is, with the stored failed result.

A cancel that cannot reach Redis is logged; the command then runs to its end
on its node (its result is stored and nobody waits for it).
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Coroutine
from typing import Any

from llmgine.distributed.codec import encode_result
from llmgine.distributed.commands import failed_result
from llmgine.distributed.keys import GROUP
from llmgine.messages.commands import Command, CommandResult

__all__ = ["Cancels"]

logger = logging.getLogger("llmgine.distributed")

_SEND_WAIT = 5.0  # longest a cancelled caller waits for its cancel to reach Redis
_REMEMBERED = 1000  # cancels kept that came before their command ran here


class Cancels:
    """Both sides of cancelling: sending a caller's cancel, and acting on one received."""

    def __init__(self, transport: Any) -> None:  # the RedisTransport (no import: no cycle)
        self.t = transport
        self.running: dict[str, asyncio.Task[Any]] = {}
        self._received: OrderedDict[str, None] = OrderedDict()
        self._sending: set[asyncio.Task[None]] = set()
        self._cut: set[str] = set()  # commands whose running handler received() cancelled

    # -- the caller's side ----------------------------------------------------------

    async def request(self, command: Command) -> None:
        """Cancel ``command`` wherever it is (its caller was cancelled); bounded wait.

        The work is a task of the transport: a second cancel of the caller
        does not cut it short.
        """
        task = self.t.spawn(self._send(command), f"llmgine-cancel-{command.command_id}")
        self._sending.add(task)
        task.add_done_callback(self._sending.discard)
        await asyncio.wait({task}, timeout=_SEND_WAIT)

    async def _send(self, command: Command) -> None:
        t = self.t
        name = type(command).__name__
        result = failed_result(
            command.command_id, command.session_id, f"{name} was cancelled by its caller"
        )
        try:
            keys = [t.keys.result(command.command_id), t.keys.submitted(command.command_id)]
            holder = await t.run_script("cancel", keys, [encode_result(result), t.result_ttl])
            if holder:
                await t.redis.xadd(
                    t.keys.inbox(holder),
                    {"cancel": command.command_id, "origin": t.node},
                    maxlen=100_000,
                    approximate=True,
                )
        except Exception as exc:
            logger.warning("Could not cancel %s %s on Redis: %s", name, command.command_id, exc)

    # -- the handler's side ---------------------------------------------------------

    async def on_entry(self, stream: str, entry_id: str, command_id: str) -> None:
        """A ``cancel`` entry of this node's inbox: act on it, then drop the entry."""
        self.received(command_id)
        await self.t.call(self._drop, stream, entry_id)

    async def _drop(self, stream: str, entry_id: str) -> None:
        pipe = self.t.redis.pipeline(transaction=True)
        pipe.xack(stream, GROUP, entry_id)
        pipe.xdel(stream, entry_id)
        await pipe.execute()

    def received(self, command_id: str) -> None:
        """A caller cancelled ``command_id``: cancel its handler here if it runs."""
        task = self.running.get(command_id)
        self._received[command_id] = None
        while len(self._received) > _REMEMBERED:
            self._received.popitem(last=False)
        if task is not None and command_id not in self._cut:
            self._cut.add(command_id)
            task.cancel()

    async def run(
        self, command: Command, handler: Coroutine[Any, Any, CommandResult]
    ) -> CommandResult:
        """Await the handler in this task (the entry's), which a received cancel can cut.

        No task of its own: one per command would cost the round trip time.
        A handler cancelled by its caller gives a failed result; when this
        node is detaching (this task is cancelled too, or only) the handler
        is cancelled and the command left pending for another node, as before.
        """
        command_id = command.command_id
        if command_id in self._received:  # cancelled between the lease and now
            handler.close()
            return self._cancelled(command)
        task = asyncio.current_task()
        assert task is not None
        self.running[command_id] = task
        try:
            result = await handler
        except asyncio.CancelledError:
            # Ours alone (received() cut it, nothing else asked): a failed result.
            if command_id in self._cut:
                self._cut.discard(command_id)
                if task.uncancel() == 0:
                    return self._cancelled(command)
            raise
        finally:
            self.running.pop(command_id, None)
        if command_id in self._cut:  # the handler ignored the cancel: forget we asked
            self._cut.discard(command_id)
            task.uncancel()
        return result

    @staticmethod
    def _cancelled(command: Command) -> CommandResult:
        return failed_result(
            command.command_id,
            command.session_id,
            f"{type(command).__name__} was cancelled by its caller",
        )
