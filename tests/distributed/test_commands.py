"""Commands across processes, against a real redis-server and real worker processes."""

from __future__ import annotations

import asyncio
import time

import orjson
from dist_messages import Echo, Poison, SessionOnly, Slow, Traced, TracedEvent

from conftest import apoll
from llmgine import MessageBus
from llmgine.distributed import Keys, RedisTransport
from llmgine.distributed.codec import decode_result


def caller(url: str, ns: str, **kwargs) -> RedisTransport:  # type: ignore[no-untyped-def]
    kwargs.setdefault("claim_after", 1.0)
    return RedisTransport(url, node="caller", namespace=ns, **kwargs)


def replies_for(record, ns: str, command_id: str) -> int:  # type: ignore[no-untyped-def]
    entries = record.xrange(Keys(ns).reply("caller"))
    return sum(1 for _, fields in entries if fields.get("id") == command_id)


async def test_a_command_runs_on_a_worker_and_its_events_and_trace_come_back(
    bus: MessageBus, redis_server, workers, ns
) -> None:
    workers.start("w1")
    seen: list[TracedEvent] = []
    bus.register_event_handler(TracedEvent, seen.append, session_id="s1")
    await bus.attach(caller(redis_server.url, ns, events=[TracedEvent]))

    echoed = await bus.execute(Echo("hello"))
    assert echoed.success, echoed.error
    assert echoed.result == "hello from w1"
    assert echoed.command_id is not None

    command = Traced(session_id="s1")
    result = await bus.execute(command)
    assert result.success and result.result == "w1"
    # The worker's event arrived before its result, with the command as its parent.
    assert len(seen) == 1
    assert seen[0].trace_id == command.trace_id == command.command_id
    assert seen[0].parent_id == command.command_id
    assert seen[0].metadata["received_from"] == "w1"


async def test_no_node_for_a_command_is_a_failed_result_naming_the_type(
    bus: MessageBus, redis_server, ns
) -> None:
    await bus.attach(caller(redis_server.url, ns))
    result = await bus.execute(Echo("anyone?"))
    assert not result.success
    assert "no node serves Echo" in (result.error or "")
    await bus.detach()

    await bus.attach(caller(redis_server.url, ns, command_timeout=0.5))
    started = time.monotonic()
    result = await bus.execute(Echo("anyone?"))
    assert not result.success
    assert "no node answered Echo within 0.5 s" in (result.error or "")
    assert time.monotonic() - started < 10


async def test_a_worker_killed_mid_command_is_replaced_and_the_caller_gets_one_result(
    bus: MessageBus, redis_server, workers, ns, record
) -> None:
    workers.start("w1", "w2", claim_after=1.0)
    await bus.attach(caller(redis_server.url, ns))
    command = Slow(seconds=1.5)
    task = asyncio.create_task(bus.execute(command))
    started_key = f"{ns}:test:started:{command.command_id}"
    first = (await apoll(lambda: record.lrange(started_key, 0, -1), what="a start"))[0]
    workers.kill(first)  # SIGKILL while its handler runs

    result = await asyncio.wait_for(task, 60)
    survivor = "w2" if first == "w1" else "w1"
    assert result.success, result.error
    assert result.result == {"node": survivor, "id": command.command_id}  # command_id readable
    assert record.lrange(started_key, 0, -1) == [first, survivor]
    assert record.lrange(f"{ns}:test:finished:{command.command_id}", 0, -1) == [survivor]
    assert replies_for(record, ns, command.command_id) == 1


async def test_a_completed_command_never_runs_again(
    bus: MessageBus, redis_server, workers, ns, record
) -> None:
    workers.start("w1")
    keys = Keys(ns)
    await bus.attach(caller(redis_server.url, ns))
    command = Slow(seconds=0)
    first = await bus.execute(command)
    assert first.success
    again = await bus.execute(command)  # the same command_id submitted again
    assert again.result == first.result
    # A forced duplicate entry of the same command: answered from the stored result.
    stream = keys.commands(Slow._message_type)
    record.xadd(
        stream,
        {
            "id": command.command_id,
            "data": orjson.dumps(command.to_dict()).decode(),
            "reply": keys.reply("caller"),
            "origin": "caller",
        },
    )
    await apoll(lambda: replies_for(record, ns, command.command_id) == 2, what="the re-sent result")
    assert record.lrange(f"{ns}:test:finished:{command.command_id}", 0, -1) == ["w1"]
    await apoll(lambda: record.xlen(stream) == 0, what="the duplicate entry acked and deleted")


async def test_a_command_that_kills_every_worker_is_dead_lettered(
    bus: MessageBus, redis_server, workers, ns, record
) -> None:
    workers.start("w1", "w2", claim_after=0.5, max_deliveries=1)
    await bus.attach(caller(redis_server.url, ns))
    command = Poison()
    result = await asyncio.wait_for(bus.execute(command), 60)
    assert not result.success
    assert "Poison was delivered 2 times (max_deliveries=1)" in (result.error or "")
    dead = record.xrange(Keys(ns).dead)
    assert [fields["id"] for _, fields in dead] == [command.command_id]
    assert dead[0][1]["deliveries"] == "2"
    alive = [node for node, proc in workers.procs.items() if proc.poll() is None]
    assert len(alive) == 1  # the one that buried it instead of running it


async def test_a_long_command_keeps_its_claim(
    bus: MessageBus, redis_server, workers, ns, record
) -> None:
    workers.start("w1", "w2", claim_after=0.5)
    await bus.attach(caller(redis_server.url, ns))
    command = Slow(seconds=2.5)  # five times claim_after
    result = await asyncio.wait_for(bus.execute(command), 60)
    assert result.success
    assert len(record.lrange(f"{ns}:test:started:{command.command_id}", 0, -1)) == 1


async def test_cancelling_the_caller_cancels_the_command_on_its_worker(
    bus: MessageBus, redis_server, workers, ns, record
) -> None:
    workers.start("w1")
    keys = Keys(ns)
    await bus.attach(caller(redis_server.url, ns))
    command = Slow(seconds=600)
    task = asyncio.create_task(bus.execute(command))
    started = f"{ns}:test:started:{command.command_id}"
    await apoll(lambda: record.lrange(started, 0, -1), what="the worker to start it")
    task.cancel()
    await asyncio.wait({task}, timeout=30)
    assert task.cancelled()
    # The handler on the worker was cancelled (not left running, never finished).
    cancelled = f"{ns}:test:cancelled:{command.command_id}"
    await apoll(lambda: record.lrange(cancelled, 0, -1) == ["w1"], what="the handler cancelled")
    await apoll(lambda: record.xlen(keys.commands(Slow._message_type)) == 0, what="its entry done")
    assert record.lrange(f"{ns}:test:finished:{command.command_id}", 0, -1) == []
    stored = decode_result(record.get(keys.result(command.command_id)))
    assert not stored.success and stored.error == "Slow was cancelled by its caller"
    assert record.get(keys.lease(command.command_id)) is None
    # The worker goes on serving, and the same command is not run again.
    assert (await bus.execute(Echo("next"))).result == "next from w1"
    again = await bus.execute(command)
    assert again.error == "Slow was cancelled by its caller"
    assert record.lrange(started, 0, -1) == ["w1"]


async def test_a_command_cancelled_before_any_node_took_it_never_runs(
    bus: MessageBus, redis_server, workers, ns, record
) -> None:
    keys = Keys(ns)
    await bus.attach(caller(redis_server.url, ns, command_timeout=60))  # sent with no node up
    command = Slow(seconds=0)
    task = asyncio.create_task(bus.execute(command))
    stream = keys.commands(Slow._message_type)
    await apoll(lambda: record.xlen(stream) == 1, what="the command queued")
    task.cancel()
    await asyncio.wait({task}, timeout=30)
    assert task.cancelled()
    workers.start("w1")
    await apoll(lambda: record.xlen(stream) == 0, what="the worker to take the entry")
    assert record.lrange(f"{ns}:test:started:{command.command_id}", 0, -1) == []
    assert (await bus.execute(Echo("after"))).result == "after from w1"


async def test_session_handlers_get_their_sessions_commands_only(
    bus: MessageBus, redis_server, workers, ns
) -> None:
    workers.start("w1", session="s-42")
    await bus.attach(caller(redis_server.url, ns))
    result = await bus.execute(SessionOnly(session_id="s-42"))
    assert result.success and result.result == "session s-42 on w1"
    other = await bus.execute(SessionOnly(session_id="s-7"))
    assert not other.success
    assert "no node serves SessionOnly" in (other.error or "")


async def test_unknown_and_malformed_records_are_dead_lettered_never_imported(
    bus: MessageBus, redis_server, workers, ns, record, tmp_path
) -> None:
    workers.start("w1")
    keys = Keys(ns)
    marker = tmp_path / "imported"
    await bus.attach(caller(redis_server.url, ns))
    assert (await bus.execute(Echo("warm"))).success
    stream = keys.commands(Echo._message_type)
    evil = {"message_type": "evilmodule_that_writes_a_file:Payload", "command_id": "c-evil"}
    record.xadd(stream, {"id": "c-evil", "data": orjson.dumps(evil).decode(), "reply": ""})
    record.xadd(stream, {"id": "c-bad", "data": "{not json", "reply": ""})
    record.xadd(stream, {"nothing": "here"})
    dead = await apoll(lambda: len(record.xrange(keys.dead)) == 3 and record.xrange(keys.dead))
    reasons = [fields["reason"] for _, fields in dead]
    assert "unknown message type 'evilmodule_that_writes_a_file:Payload'" in reasons[0]
    assert "not JSON" in reasons[1]
    assert "no 'data' field" in reasons[2]
    assert not marker.exists()
    # The worker is still serving.
    assert (await bus.execute(Echo("still there"))).result == "still there from w1"
    assert record.get(keys.result("c-evil")) is not None  # its caller would get a failed result
