"""Nodes: heartbeats, and what live nodes do about the nodes whose heartbeat stopped.

* Every node renews its heartbeat, ``node:{node}``, a key that expires after
  ``liveness_ttl`` seconds unless renewed (every third of it); ``nodes`` keeps
  when each node's heartbeat expires, on Redis's clock.
* Once a node's heartbeat has expired, the live nodes take over the commands
  left in its inbox (its session handlers' commands): those it never read at
  once, those it was running after ``claim_after`` like any other claim, with
  the same delivery count and dead-lettering.
* Once it expired more than ``node_grace`` seconds ago (an hour by default), a
  live node removes what the node left: its consumers (only where nothing is
  pending for them), its inbox (only once empty), its reply stream, its events
  consumer group and its place in the handler sets. One script checks and
  removes, so a node that renews its heartbeat in between is never touched; a
  node that was merely paused for less than the grace keeps everything. A
  node that comes back after being cleaned up says so and starts afresh (its
  groups are recreated; it misses the events sent while it was gone).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from typing import Any

from llmgine.distributed.keys import GROUP

__all__ = ["NodeKeeper"]

logger = logging.getLogger("llmgine.distributed")

_BATCH = 100  # expired nodes looked at per pass


class NodeKeeper:
    """This node's heartbeat, and the care of the nodes that stopped beating."""

    def __init__(self, transport: Any) -> None:  # the RedisTransport (no import: no cycle)
        self.t = transport
        self.beats = 0  # heartbeats sent since attach
        self.passes = 0  # passes over the expired nodes since attach
        self.wake = asyncio.Event()

    # -- this node ---------------------------------------------------------------

    async def announce(self) -> None:
        """Renew the heartbeat; say which command types this node serves and which sessions."""
        t = self.t
        ttl_ms = int(t.liveness_ttl * 1000)
        served = sorted(t.served_types)
        routes = sorted(t.session_routes)

        def build(pipe: Any) -> None:
            t.queue_script(
                pipe,
                "heartbeat",
                [t.keys.node(t.node), t.keys.nodes, t.keys.types],
                [t.node, ttl_ms, *served],
            )
            for name in served:
                pipe.sadd(t.keys.handlers(name), t.node)
            for session, name in routes:
                pipe.hset(t.keys.route(session), name, t.node)
                pipe.pexpire(t.keys.route(session), ttl_ms * 4)

        answers = await t.pipelined(build)
        t.unannounced_routes.difference_update(routes)
        self.beats += 1
        if answers[0] == 1 and self.beats > 1:
            logger.warning(
                "Node %s was unknown to Redis (gone longer than node_grace, and cleaned up; "
                "or Redis lost its data): rejoining with fresh consumer groups",
                t.node,
            )
            t.forget_groups(said=True)

    async def withdraw(self) -> None:
        """Leave: the heartbeat ends now; the handler sets and session routes forget us."""
        t = self.t

        def build(pipe: Any) -> None:
            t.queue_script(
                pipe, "heartbeat", [t.keys.node(t.node), t.keys.nodes, t.keys.types], [t.node, 0]
            )
            for name in t.served_types:
                pipe.srem(t.keys.handlers(name), t.node)
            for session, name in t.session_routes:
                pipe.hdel(t.keys.route(session), name)

        await t.pipelined(build)

    async def heartbeat_step(self) -> None:
        """One heartbeat, then wait a third of the heartbeat's life (or a change)."""
        t = self.t
        await self.announce()
        t.recovered()
        if "llmgine-redis-heartbeat" in t.halted:
            return  # a cancel lost inside redis-py must not leave this loop waiting
        self.wake.clear()
        try:
            await asyncio.wait_for(self.wake.wait(), t.liveness_ttl / 3)
        except TimeoutError:
            pass

    async def alive(self, nodes: Iterable[str]) -> set[str]:
        """The nodes of ``nodes`` whose heartbeat has not expired."""
        t = self.t
        names = list(nodes)
        if not names:
            return set()
        pipe = t.redis.pipeline(transaction=False)
        for name in names:
            pipe.exists(t.keys.node(name))
        answers = await pipe.execute()
        return {name for name, up in zip(names, answers, strict=True) if up}

    # -- the other nodes -----------------------------------------------------------

    async def tend(self) -> None:
        """One pass over the nodes whose heartbeat expired: take over, then clean up."""
        t = self.t
        answer = await t.run_script("expired", [t.keys.nodes], [_BATCH])
        now = int(answer[0])
        expired = {
            str(answer[i]): int(float(answer[i + 1]))
            for i in range(1, len(answer) - 1, 2)
            if answer[i] != t.node
        }
        self.passes += 1
        if not expired:
            return
        names = list(expired)
        pipe = t.redis.pipeline(transaction=False)
        for name in names:
            pipe.exists(t.keys.node(name))
            pipe.xlen(t.keys.inbox(name))
        answers = await pipe.execute()
        grace_ms = int(t.node_grace * 1000)
        for index, name in enumerate(names):
            if answers[2 * index]:  # beating again (its heartbeat was late)
                continue
            if answers[2 * index + 1]:
                await t.worker.take_over(t.keys.inbox(name))
            elif now - expired[name] >= grace_ms:
                await self.clean(name)

    async def clean(self, node: str) -> int:
        """Remove what ``node`` left (the script checks it is gone for good); -1: not yet."""
        t = self.t
        types = sorted(await t.redis.smembers(t.keys.types))
        keys = [
            t.keys.node(node),
            t.keys.nodes,
            t.keys.inbox(node),
            t.keys.reply(node),
            t.keys.events,
        ]
        for name in types:
            keys += [t.keys.commands(name), t.keys.handlers(name)]
        grace_ms = int(t.node_grace * 1000)
        kept = int(
            await t.run_script(
                "clean_node", keys, [node, grace_ms, GROUP, t.keys.event_group(node)]
            )
        )
        if kept == 0:
            logger.info("Cleaned up after node %s (gone for more than %g s)", node, t.node_grace)
        return kept
