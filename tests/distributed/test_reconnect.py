"""Redis restarts under running nodes: with its data kept (AOF), and without it."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from dist_messages import Echo, Slow
from redis_server import RedisServer

from conftest import Workers, apoll
from llmgine import Event, MessageBus
from llmgine.cli.distributed import watch_connection
from llmgine.distributed import Keys, RedisTransport, TransportError, TransportStatusEvent


@pytest.fixture
def volatile_server(tmp_path: Path) -> Iterator[RedisServer]:
    """A server of this test's own, without persistence (a restart loses everything)."""
    server = RedisServer(tmp_path / "volatile", aof=False)
    server.start()
    yield server
    server.stop()


async def test_an_in_flight_command_survives_a_redis_restart_with_its_data(
    bus: MessageBus, redis_server, workers, ns, record
) -> None:
    workers.start("w1", claim_after=1.0)
    await bus.attach(RedisTransport(redis_server.url, node="caller", namespace=ns))
    command = Slow(seconds=1.0)
    task = asyncio.create_task(bus.execute(command))
    await apoll(lambda: record.lrange(f"{ns}:test:started:{command.command_id}", 0, -1))
    redis_server.kill()  # crash mid-command; the AOF keeps what was acknowledged
    redis_server.start()
    result = await asyncio.wait_for(task, 60)
    assert result.success, result.error
    assert result.result == {"node": "w1", "id": command.command_id}
    assert (await bus.execute(Echo("after"))).result == "after from w1"


async def test_nodes_recreate_their_groups_after_redis_lost_its_data(
    bus: MessageBus, volatile_server, ns, caplog
) -> None:
    group = Workers(volatile_server.url, ns)
    try:
        group.start("w1", claim_after=1.0)
        await bus.attach(RedisTransport(volatile_server.url, node="caller", namespace=ns))
        assert (await bus.execute(Echo("before"))).success
        volatile_server.kill()
        volatile_server.start()  # empty: no streams, no groups, no node keys
        with caplog.at_level(logging.WARNING, logger="llmgine.distributed"):

            async def answered() -> bool:
                result = await bus.execute(Echo("after"))
                return result.success and result.result == "after from w1"

            await apoll(answered, limit=40, what="a command after the data loss")
        # One warning says why: the heartbeat finds the node unknown (Redis lost its data).
        groups = ("recreating", "fresh consumer groups")
        warnings = [
            r.getMessage() for r in caplog.records if any(g in r.getMessage() for g in groups)
        ]
        assert len(warnings) == 1, warnings
        assert "Redis lost its data" in warnings[0]
        await bus.detach()
    finally:
        group.close()


async def test_a_running_commands_claims_survive_a_data_loss_without_a_traceback(
    bus: MessageBus, volatile_server, ns
) -> None:
    """The claims loop renews in a pipeline, where a missing group's error reads
    'Command # 1 (XCLAIM ...) of pipeline caused error: NOGROUP ...': still the
    missing-groups case (one warning), not an unexpected error logged with its
    traceback on every tick."""
    group = Workers(volatile_server.url, ns)
    try:
        group.start("w1", claim_after=0.5)
        await bus.attach(RedisTransport(volatile_server.url, node="caller", namespace=ns))
        command = Slow(seconds=3.0)  # a dozen claim renewals
        task = asyncio.create_task(bus.execute(command))
        record = redis.Redis.from_url(volatile_server.url, decode_responses=True)
        await apoll(lambda: record.exists(Keys(ns).lease(command.command_id)), what="its start")
        volatile_server.kill()
        volatile_server.start()  # empty: the claims loop's XCLAIM meets no group
        result = await asyncio.wait_for(task, 60)
        assert result.success, result.error
        record.close()
    finally:
        group.close()
    log = group.stderr_of("w1")
    assert "Traceback" not in log, log
    assert "keep_claims" not in log and "llmgine-redis-claims" not in log, log


def in_frame(task: asyncio.Task[object], name: str) -> bool:
    """Whether the coroutine ``name`` is in the chain ``task`` awaits right now."""
    coro: object = task.get_coro()
    while coro is not None:
        code = getattr(coro, "cr_code", None)
        if code is not None and code.co_name == name:
            return True
        coro = getattr(coro, "cr_await", None)
    return False


@pytest.mark.parametrize("stage", ["sending", "waiting"])
async def test_execute_gives_up_when_redis_stays_down_for_outage_timeout(
    bus: MessageBus, volatile_server, ns, stage
) -> None:
    """Down while the call reads its reply in the submit's round trip, or later
    while it waits for the result: a failed result after outage_timeout, not a hang."""
    group = Workers(volatile_server.url, ns)
    try:
        group.start("w1", claim_after=1.0)
        transport = RedisTransport(
            volatile_server.url + "?password=", node="caller", namespace=ns, outage_timeout=2.0
        )
        await bus.attach(transport)
        command = Slow(seconds=600)
        task = asyncio.create_task(bus.execute(command))
        record = redis.Redis.from_url(volatile_server.url, decode_responses=True)
        await apoll(lambda: record.exists(Keys(ns).lease(command.command_id)), what="its start")
        record.close()
        if stage == "waiting":  # the submit's blocking read (1 s) returned
            await apoll(lambda: in_frame(task, "_wait"), what="the call waiting")
        volatile_server.kill()  # and it stays down
        result = await asyncio.wait_for(task, 60)  # command_timeout is None
        assert not result.success
        assert "gave up waiting for Slow: Redis at redis://127.0.0.1:" in (result.error or "")
        assert "(outage_timeout=2; " in (result.error or "")
        await bus.detach()
    finally:
        group.close()


async def test_the_outbox_of_shared_events_is_bounded_during_an_outage(
    bus: MessageBus, volatile_server, ns, caplog
) -> None:
    from dist_messages import Note

    from llmgine.distributed.events import _BATCH

    transport = RedisTransport(
        volatile_server.url, node="caller", namespace=ns, events=[Note], max_events=50
    )
    await bus.attach(transport)
    volatile_server.kill()
    with caplog.at_level(logging.WARNING, logger="llmgine.distributed"):
        for i in range(2000):
            bus.publish_nowait(Note(text=str(i)))
        await bus.wait_for_events()
    outbox = transport.events.outbox
    assert len(outbox) <= 50 + _BATCH  # max_events, and the batch being sent
    assert outbox[-1].text == "1999"  # the newest are kept
    assert any("outbox of shared events is full" in r.getMessage() for r in caplog.records)
    volatile_server.start()
    await bus.detach()


async def test_detach_is_prompt_and_leaves_no_task(bus: MessageBus, redis_server, ns) -> None:
    transport = RedisTransport(redis_server.url, node="caller", namespace=ns, events="all")
    await bus.attach(transport)
    before = time.monotonic()
    await bus.stop()
    assert time.monotonic() - before < 6
    assert bus.transport is None
    left = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
    assert [t.get_name() for t in left if t.get_name().startswith("llmgine-redis")] == []


async def test_an_unreachable_redis_is_one_clear_error(bus: MessageBus) -> None:
    from redis_server import free_port

    transport = RedisTransport(f"redis://127.0.0.1:{free_port()}/0")
    with pytest.raises(TransportError, match="cannot reach Redis at redis://127.0.0.1:"):
        await bus.attach(transport)
    assert bus.transport is None


async def test_handlers_and_the_cli_hear_when_the_connection_is_lost_and_back(
    bus: MessageBus, volatile_server, ns, tmp_path
) -> None:
    import io

    from prompt_toolkit.input import create_pipe_input
    from prompt_toolkit.output import DummyOutput
    from rich.console import Console

    from llmgine.cli import EngineCLI

    seen: list[TransportStatusEvent] = []
    bus.register_event_handler(TransportStatusEvent, seen.append)
    transport = RedisTransport(
        volatile_server.url, node="caller", namespace=ns, claim_after=1.0, events="all"
    )
    assert not transport.shares(TransportStatusEvent)  # about this node: never sent
    assert transport.shares(Event)
    console = Console(file=io.StringIO(), width=200, force_terminal=False, color_system=None)
    with create_pipe_input() as pipe:
        cli = EngineCLI(
            "s1",
            bus=bus,
            console=console,
            input=pipe,
            output=DummyOutput(),
            history_file=tmp_path / "history",
        )
        watch_connection(bus, cli.notice)
        await bus.attach(transport)
        volatile_server.kill()
        await apoll(lambda: [e.status for e in seen] == ["lost"], what="the lost event")
        volatile_server.start()
        await apoll(
            lambda: [e.status for e in seen] == ["lost", "recovered"], what="the recovered event"
        )
        await bus.detach()
    assert seen[0].node == "caller" and seen[0].transport.startswith("RedisTransport('redis://")
    assert "Connection" in seen[0].detail or "Error" in seen[0].detail, seen[0].detail
    shown = console.file.getvalue()  # type: ignore[attr-defined]
    assert "lost the connection to Redis (" in shown and "reconnecting..." in shown
    assert shown.index("lost the connection") < shown.index("reconnected to Redis")


async def test_a_full_connection_pool_is_not_a_lost_connection(
    bus: MessageBus, redis_server, ns, caplog
) -> None:
    from redis.exceptions import MaxConnectionsError

    seen: list[TransportStatusEvent] = []
    bus.register_event_handler(TransportStatusEvent, seen.append)
    transport = RedisTransport(redis_server.url, node="caller", namespace=ns)
    await bus.attach(transport)
    with caplog.at_level(logging.WARNING, logger="llmgine.distributed"):
        transport.lost(MaxConnectionsError("Too many connections"))
        await bus.wait_for_events()
    assert transport.connected and seen == []
    said = [r.getMessage() for r in caplog.records]
    assert any("Every connection to Redis is in use" in line for line in said), said
    assert not any("Lost the connection" in line for line in said), said
    await bus.detach()
