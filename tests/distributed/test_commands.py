"""Commands across processes, against a real redis-server and real worker processes."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from pathlib import Path

import orjson
from dist_messages import Echo, Poison, SessionOnly, Slow, Traced, TracedEvent, Turn

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


def finished(record, ns: str, command_id: str) -> list[str]:  # type: ignore[no-untyped-def]
    return record.lrange(f"{ns}:test:finished:{command_id}", 0, -1)


def entry_of(command: Slow, keys: Keys) -> dict[str, str]:
    """The fields of a command's stream entry (as the submit script writes them)."""
    return {
        "id": command.command_id,
        "data": orjson.dumps(command.to_dict()).decode(),
        "origin": "caller",
    }


#: Add an entry and deliver it to a consumer that never finishes it, in one step.
DELIVERED_TO_A_GHOST = """
local id = redis.call('XADD', KEYS[1], '*', unpack(ARGV))
redis.call('XREADGROUP', 'GROUP', 'handlers', 'ghost', 'COUNT', 1, 'STREAMS', KEYS[1], '>')
return id
"""


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
    assert finished(record, ns, command.command_id) == ["w1"]
    # The submit script answered it from the stored result, with a reply of its own.
    assert replies_for(record, ns, command.command_id) == 2

    # An entry of it delivered again (its first reader died before finishing it): the
    # node that claims it sends the stored result instead of running it.
    stream = keys.commands(Slow._message_type)
    fields = [item for pair in entry_of(command, keys).items() for item in pair]
    record.eval(DELIVERED_TO_A_GHOST, 1, stream, *fields)
    await apoll(lambda: replies_for(record, ns, command.command_id) == 3, what="the re-sent result")
    assert finished(record, ns, command.command_id) == ["w1"]
    await apoll(lambda: record.xlen(stream) == 0, what="the redelivered entry acked and deleted")


async def test_an_entry_written_by_hand_with_a_used_id_cannot_change_its_result(
    bus: MessageBus, redis_server, workers, ns, record
) -> None:
    """A first delivery runs without a check (the submit script keeps ids unique);
    an entry added to a stream by hand, outside ``bus.execute``, may run again,
    but the result every caller sees stays the first one."""
    workers.start("w1")
    keys = Keys(ns)
    await bus.attach(caller(redis_server.url, ns))
    command = Slow(seconds=0)
    first = await bus.execute(command)
    stored = record.get(keys.result(command.command_id))
    record.xadd(keys.commands(Slow._message_type), entry_of(command, keys))
    await apoll(lambda: replies_for(record, ns, command.command_id) == 2, what="its reply")
    assert record.get(keys.result(command.command_id)) == stored
    replies = [f for _, f in record.xrange(keys.reply("caller")) if f["id"] == command.command_id]
    assert replies[0]["result"] == replies[1]["result"] == stored
    assert (await bus.execute(command)).result == first.result


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
    """While it runs, its entry stays pending for its node only, delivered once and
    never idle for claim_after, and its lease stays that node's (renewed)."""
    workers.start("w1", "w2", claim_after=0.5)
    keys = Keys(ns)
    await bus.attach(caller(redis_server.url, ns))
    command = Slow(seconds=2.5)  # five times claim_after
    task = asyncio.create_task(bus.execute(command))
    stream = keys.commands(Slow._message_type)
    lease, result_key = keys.lease(command.command_id), keys.result(command.command_id)
    runner = await apoll(lambda: record.get(lease), what="its lease")
    samples = 0
    while not task.done():
        pending = record.xpending_range(stream, "handlers", "-", "+", 10)
        owner = record.get(lease)
        if record.exists(result_key):
            break  # finished between the reads
        assert owner == runner, f"the lease went from {runner} to {owner}"
        assert len(pending) == 1, pending
        assert pending[0]["consumer"] == runner and pending[0]["times_delivered"] == 1, pending
        assert pending[0]["time_since_delivered"] < 1500, pending  # renewed (claim_after 0.5)
        samples += 1
        await asyncio.wait({task}, timeout=0.05)  # a sampling interval, not a sync
    result = await asyncio.wait_for(task, 60)
    assert result.success and result.result["node"] == runner
    assert samples >= 10
    assert record.get(lease) is None  # the finish script dropped the lease its node renewed
    assert record.lrange(f"{ns}:test:started:{command.command_id}", 0, -1) == [runner]


async def test_a_call_waiting_when_its_transport_detaches_gets_a_failed_result(
    bus: MessageBus, redis_server, workers, ns, record
) -> None:
    workers.start("w1")
    await bus.attach(caller(redis_server.url, ns))
    command = Slow(seconds=600)
    task = asyncio.create_task(bus.execute(command))
    started = f"{ns}:test:started:{command.command_id}"
    await apoll(lambda: record.lrange(started, 0, -1), what="the worker to start it")
    await bus.detach()
    result = await asyncio.wait_for(task, 30)  # a result: not a raised error, not a cancel
    assert not result.success
    assert result.error == "Slow: the transport was detached before its result came"


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


def evil_marker(tmp_path, monkeypatch) -> Path:  # type: ignore[no-untyped-def]
    """The file evil_module writes when imported; shown to work, then removed."""
    marker = tmp_path / "imported"
    monkeypatch.setenv("LLMGINE_TEST_EVIL_MARKER", str(marker))
    here = Path(__file__).resolve().parent
    subprocess.run([sys.executable, "-c", "import evil_module"], cwd=here, check=True)
    assert marker.exists()  # importing it (from the workers' directory) would be seen
    marker.unlink()
    return marker


async def test_unknown_and_malformed_records_are_dead_lettered_never_imported(
    bus: MessageBus, redis_server, workers, ns, record, tmp_path, monkeypatch
) -> None:
    marker = evil_marker(tmp_path, monkeypatch)
    workers.start("w1")  # its environment names the marker
    keys = Keys(ns)
    await bus.attach(caller(redis_server.url, ns))
    assert (await bus.execute(Echo("warm"))).success
    stream = keys.commands(Echo._message_type)
    evil = {"message_type": "evil_module:Payload", "command_id": "c-evil"}
    record.xadd(
        stream,
        {"id": "c-evil", "type": "evil_module:Payload", "data": orjson.dumps(evil).decode()}
        | {"reply": ""},
    )
    record.xadd(stream, {"id": "c-bad", "data": "{not json", "reply": ""})
    record.xadd(stream, {"nothing": "here"})
    dead = await apoll(lambda: len(record.xrange(keys.dead)) == 3 and record.xrange(keys.dead))
    reasons = [fields["reason"] for _, fields in dead]
    assert "unknown message type 'evil_module:Payload'" in reasons[0]
    assert "not JSON" in reasons[1]
    assert "no 'data' field" in reasons[2]
    assert not marker.exists()
    # The worker is still serving.
    assert (await bus.execute(Echo("still there"))).result == "still there from w1"
    assert record.get(keys.result("c-evil")) is not None  # its caller would get a failed result


async def test_a_command_given_up_before_any_node_took_it_never_runs(
    bus: MessageBus, redis_server, workers, ns, record
) -> None:
    keys = Keys(ns)
    await bus.attach(caller(redis_server.url, ns, command_timeout=0.5))
    command = Slow(seconds=0)
    result = await bus.execute(command)  # no worker yet: queued, then given up
    assert not result.success
    assert "no node answered Slow within 0.5 s" in (result.error or "")
    assert record.xlen(keys.commands(Slow._message_type)) == 0  # withdrawn from its stream
    workers.start("w1")
    later = Slow(seconds=0)
    assert (await bus.execute(later)).result == {"node": "w1", "id": later.command_id}
    assert record.lrange(f"{ns}:test:started:{command.command_id}", 0, -1) == []
    assert (await bus.execute(command)).error == result.error  # its stored (failed) result


async def test_concurrent_calls_from_one_node_each_get_their_own_result(
    bus: MessageBus, redis_server, workers, ns, record
) -> None:
    """One call at a time reads its reply itself; the others share the node's reader."""
    workers.start("w1", "w2")
    await bus.attach(caller(redis_server.url, ns))
    slow = [Slow(seconds=0.2 * (i % 3)) for i in range(12)]
    echoes = [Echo(f"n{i}") for i in range(12)]
    results = await asyncio.wait_for(asyncio.gather(*map(bus.execute, [*slow, *echoes])), 60)
    for command, result in zip(slow, results[:12], strict=True):
        assert result.success and result.result["id"] == command.command_id
    for command, result in zip(echoes, results[12:], strict=True):
        assert result.success and result.result.startswith(f"{command.text} from w")
    again = await bus.execute(Echo("after"))  # the reader went back to sleep; the next call reads
    assert again.result.startswith("after from w")


async def test_back_to_back_turns_of_a_session_stay_on_the_worker_that_took_it(
    bus: MessageBus, redis_server, workers, ns
) -> None:
    """The worker that answers a session's first turn keeps it (its engine has the
    history): the next turns, sent the moment a result arrives, go to it."""
    workers.start("w1", "w2", sticky=True)
    await bus.attach(caller(redis_server.url, ns))
    served: dict[str, list[str]] = {}
    for n in range(10):
        session = f"conversation-{n}"
        for _ in range(3):
            result = await bus.execute(Turn(session_id=session))
            assert result.success, result.error
            served.setdefault(session, []).append(result.result)
    split = {session: nodes for session, nodes in served.items() if len(set(nodes)) > 1}
    assert split == {}


async def test_a_worker_runs_at_most_max_concurrency_commands_and_leaves_the_rest(
    bus: MessageBus, redis_server, workers, ns, record
) -> None:
    """A node with no free slot reads nothing more: a worker started later takes the
    backlog's rest (one node took all 200 queued before)."""
    workers.start("w1", max_concurrency=2)
    await bus.attach(caller(redis_server.url, ns))
    commands = [Slow(seconds=600) for _ in range(4)]
    tasks = [asyncio.create_task(bus.execute(c)) for c in commands]

    def starters() -> list[str]:
        return [
            node
            for c in commands
            for node in record.lrange(f"{ns}:test:started:{c.command_id}", 0, -1)
        ]

    await apoll(lambda: len(starters()) == 2, what="w1 to start two")
    workers.start("w2", max_concurrency=2)
    await apoll(lambda: len(starters()) == 4, what="w2 to start the other two")
    assert sorted(starters()) == ["w1", "w1", "w2", "w2"]
    assert record.get(f"{ns}:test:peak:w1") == "2"
    for task in tasks:
        task.cancel()
    await asyncio.wait(tasks, timeout=30)
    assert all(task.cancelled() for task in tasks)
