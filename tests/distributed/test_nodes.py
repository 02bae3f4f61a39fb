"""Nodes whose heartbeat stopped: their session commands are taken over, what they left is
removed after ``node_grace``, and a node that is only paused keeps everything."""

from __future__ import annotations

import asyncio
import os
import signal
from typing import Any

from dist_messages import Echo, Note, Ping, SessionOnly
from redis.exceptions import ResponseError

from conftest import Workers, apoll
from llmgine import MessageBus
from llmgine.distributed import Keys, RedisTransport


def leftovers(record: Any, ns: str, node: str) -> dict[str, bool]:
    """What a worker node of dist_worker.py keeps in Redis, by name: there or not."""
    keys = Keys(ns)

    def consumer(stream: str) -> bool:
        try:
            return any(c["name"] == node for c in record.xinfo_consumers(stream, "handlers"))
        except ResponseError:  # no such stream or group
            return False

    def events_group() -> bool:
        try:
            groups = record.xinfo_groups(keys.events)
        except ResponseError:
            return False
        return any(g["name"] == keys.event_group(node) for g in groups)

    return {
        "heartbeat": bool(record.exists(keys.node(node))),
        "in nodes": record.zscore(keys.nodes, node) is not None,
        "consumer of Echo": consumer(keys.commands(Echo._message_type)),
        "consumer of its inbox": consumer(keys.inbox(node)),
        "in Echo's handlers": bool(record.sismember(keys.handlers(Echo._message_type), node)),
        "inbox": bool(record.exists(keys.inbox(node))),
        "reply stream": bool(record.exists(keys.reply(node))),
        "events group": events_group(),
    }


async def attach_caller(bus: MessageBus, url: str, ns: str, **kwargs: Any) -> RedisTransport:
    """The test's own node: it answers the workers' Ping and tends the expired nodes."""
    bus.register_command_handler(Ping, lambda cmd: "pong")
    transport = RedisTransport(
        url, node="caller", namespace=ns, claim_after=1.0, events=[Note], **kwargs
    )
    await bus.attach(transport)
    return transport


def pid(workers: Workers, node: str) -> int:
    return workers.procs[node].pid


async def test_a_killed_nodes_leftovers_are_removed_after_the_grace_period(
    bus: MessageBus, redis_server, workers, ns, record
) -> None:
    keys = Keys(ns)
    await attach_caller(bus, redis_server.url, ns, node_grace=3.0)
    # Its Ping's reply makes its reply stream (started in a thread: this loop answers it).
    await asyncio.to_thread(workers.start, "w1", ping=True)
    everything = dict.fromkeys(leftovers(record, ns, "w1"), True)
    assert leftovers(record, ns, "w1") == everything

    workers.kill("w1")
    await apoll(lambda: not record.exists(keys.node("w1")), what="w1's heartbeat to expire")
    # Gone, but not for longer than node_grace: nothing is touched yet.
    assert leftovers(record, ns, "w1") == {**everything, "heartbeat": False}

    await apoll(
        lambda: not any(leftovers(record, ns, "w1").values()),
        limit=40,
        what="w1's consumers, streams, group and memberships removed",
    )
    # The cluster still works, and its own things are there.
    workers.start("w2")
    assert (await bus.execute(Echo("after"))).result == "after from w2"
    assert leftovers(record, ns, "w2")["consumer of Echo"]


async def test_a_paused_node_keeps_its_things(
    bus: MessageBus, redis_server, workers, ns, record
) -> None:
    keys = Keys(ns)
    transport = await attach_caller(bus, redis_server.url, ns, node_grace=8.0)
    await asyncio.to_thread(workers.start, "w2", ping=True)
    everything = dict.fromkeys(leftovers(record, ns, "w2"), True)
    os.kill(pid(workers, "w2"), signal.SIGSTOP)
    try:
        await apoll(lambda: not record.exists(keys.node("w2")), what="w2's heartbeat to expire")
        passes = transport.nodes.passes
        await apoll(
            lambda: transport.nodes.passes >= passes + 3, what="three passes of the caller's care"
        )
        assert leftovers(record, ns, "w2") == {**everything, "heartbeat": False}
    finally:
        os.kill(pid(workers, "w2"), signal.SIGCONT)
    await apoll(lambda: record.exists(keys.node("w2")), what="w2's heartbeat again")
    assert (await bus.execute(Echo("back"))).result == "back from w2"
    assert leftovers(record, ns, "w2") == everything


async def test_a_node_paused_past_the_grace_period_comes_back_afresh(
    bus: MessageBus, redis_server, workers, ns, record
) -> None:
    keys = Keys(ns)
    await attach_caller(bus, redis_server.url, ns, node_grace=2.0)
    workers.start("w2")
    os.kill(pid(workers, "w2"), signal.SIGSTOP)
    try:
        await apoll(lambda: record.zscore(keys.nodes, "w2") is None, limit=40, what="w2 cleaned up")
        assert not leftovers(record, ns, "w2")["consumer of Echo"]
    finally:
        os.kill(pid(workers, "w2"), signal.SIGCONT)

    async def answered() -> bool:
        result = await bus.execute(Echo("again"))
        return result.success and result.result == "again from w2"

    await apoll(answered, limit=40, what="w2 serving again")
    left = leftovers(record, ns, "w2")
    assert left["in nodes"] and left["consumer of Echo"] and left["events group"], left
    proc = workers.procs["w2"]
    proc.terminate()
    proc.wait(30)
    said = proc.stderr.read()  # type: ignore[union-attr]
    assert "was unknown to Redis (gone longer than node_grace" in said
    assert "Consumer groups are missing" not in said  # one warning, the one that says why


async def test_a_dead_nodes_session_commands_are_taken_over(
    bus: MessageBus, redis_server, workers, ns, record
) -> None:
    keys = Keys(ns)
    # The session's handler; a heartbeat of 6 s (2 * claim_after) leaves time to route
    # a second command to it after its SIGKILL.
    workers.start("w1", session="s-1", claim_after=3.0)
    workers.start("w2", root_session_only=True)  # serves the type in ROOT
    await bus.attach(RedisTransport(redis_server.url, node="caller", namespace=ns, claim_after=1.0))

    def started(command: SessionOnly) -> list[str]:
        return record.lrange(f"{ns}:test:started:{command.command_id}", 0, -1)

    running = SessionOnly(session_id="s-1", seconds=1.5)
    first = asyncio.create_task(bus.execute(running))
    await apoll(lambda: started(running) == ["w1"], what="w1 running the first command")
    workers.kill("w1")  # SIGKILL mid-command; its heartbeat has not expired yet
    queued = SessionOnly(session_id="s-1")
    second = asyncio.create_task(bus.execute(queued))  # routed to w1's inbox still
    await apoll(
        lambda: (record.get(keys.submitted(queued.command_id)) or "").startswith(
            keys.inbox("w1") + " "
        ),
        what="the second command in the dead node's inbox",
    )

    results = await asyncio.wait_for(asyncio.gather(first, second), 60)  # no command_timeout
    for result in results:
        assert result.success, result.error
        assert result.result == "session s-1 on w2"
    assert started(running) == ["w1", "w2"]
    assert started(queued) == ["w2"]
    for command in (running, queued):
        replies = [
            f for _, f in record.xrange(keys.reply("caller")) if f["id"] == command.command_id
        ]
        assert len(replies) == 1
    await apoll(lambda: record.xlen(keys.inbox("w1")) == 0, what="w1's inbox emptied")
