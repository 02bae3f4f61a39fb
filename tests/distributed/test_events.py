"""Events and scheduled events across processes, against a real redis-server."""

from __future__ import annotations

import asyncio
import datetime as dt
import time

from dist_messages import Local, Note, Tick

from conftest import apoll
from llmgine import MessageBus
from llmgine.distributed import Keys, RedisTransport


def caller(url: str, ns: str, **kwargs) -> RedisTransport:  # type: ignore[no-untyped-def]
    kwargs.setdefault("events", [Note, Tick])
    return RedisTransport(url, node="caller", namespace=ns, claim_after=1.0, **kwargs)


def got(record, ns: str, node: str) -> list[str]:  # type: ignore[no-untyped-def]
    return record.lrange(f"{ns}:test:got:{node}", 0, -1)


async def test_an_event_reaches_every_node_once_and_not_its_own_twice(
    bus: MessageBus, redis_server, workers, ns, record
) -> None:
    workers.start("w1", "w2", "w3", no_commands=True)
    here: list[Note] = []
    bus.register_event_handler(Note, here.append)
    await bus.attach(caller(redis_server.url, ns))
    notes = [Note(text=f"n{i}") for i in range(5)]
    for note in notes:
        await bus.publish(note)
    await bus.publish(Local())  # not shared: stays here
    expected = [f"Note:{n.event_id}:{n.text}" for n in notes]
    for node in ("w1", "w2", "w3"):
        await apoll(lambda node=node: len(got(record, ns, node)) >= 5, what=f"{node}'s notes")
    await bus.publish(Note(text="last"))
    for node in ("w1", "w2", "w3"):
        await apoll(lambda node=node: len(got(record, ns, node)) >= 6, what=f"{node}'s last note")
        assert got(record, ns, node)[:5] == expected
        assert len(got(record, ns, node)) == 6
    assert [n.text for n in here] == [f"n{i}" for i in range(5)] + ["last"]


async def test_a_node_that_was_down_gets_what_it_missed(
    bus: MessageBus, redis_server, workers, ns, record
) -> None:
    workers.start("w1", no_commands=True)
    await bus.attach(caller(redis_server.url, ns))
    await bus.publish(Note(text="before"))
    await apoll(lambda: got(record, ns, "w1"), what="the first note")
    group = Keys(ns).event_group("w1")
    await apoll(lambda: record.xpending(Keys(ns).events, group)["pending"] == 0, what="its ack")
    workers.kill("w1")  # (a node killed before its ack gets that event again: at least once)
    missed = [Note(text=f"missed {i}") for i in range(3)]
    for note in missed:
        await bus.publish(note)
    await bus.transport.events.flush()  # type: ignore[union-attr]
    workers.start("w1", no_commands=True)  # the same node name: its group resumes
    await apoll(lambda: len(got(record, ns, "w1")) >= 4, what="the missed notes")
    assert [line.split(":")[2] for line in got(record, ns, "w1")] == ["before"] + [
        n.text for n in missed
    ]


async def test_streams_are_trimmed(bus: MessageBus, redis_server, ns, record) -> None:
    keys = Keys(ns)
    await bus.attach(caller(redis_server.url, ns, max_events=200))
    for i in range(3000):
        bus.publish_nowait(Note(text=str(i)))
    await bus.wait_for_events()
    await bus.transport.events.flush()  # type: ignore[union-attr]
    assert record.xlen(keys.events) < 500  # approximate trimming: whole macro nodes


async def test_unknown_and_malformed_event_records_are_dead_lettered_never_imported(
    bus: MessageBus, redis_server, ns, record, tmp_path, monkeypatch
) -> None:
    import sys

    import orjson

    marker = tmp_path / "imported"
    monkeypatch.setenv("LLMGINE_TEST_EVIL_MARKER", str(marker))
    assert "evil_module" not in sys.modules  # importable from here (tests/distributed)
    keys = Keys(ns)
    here: list[Note] = []
    bus.register_event_handler(Note, here.append)
    await bus.attach(caller(redis_server.url, ns, events="all"))
    evil = {"message_type": "evil_module:EventPayload", "event_id": "e-evil"}
    record.xadd(
        keys.events,
        {"type": "evil_module:EventPayload", "data": orjson.dumps(evil).decode(), "origin": "x"},
    )
    record.xadd(keys.events, {"type": Note._message_type, "data": "{not json", "origin": "x"})
    record.xadd(keys.events, {"nothing": "here"})
    after = Note(text="after")
    record.xadd(
        keys.events,
        {"type": Note._message_type, "data": orjson.dumps(after.to_dict()).decode()}
        | {"origin": "x"},
    )
    await apoll(lambda: [n.text for n in here] == ["after"], what="the next event delivered")
    dead = await apoll(lambda: len(record.xrange(keys.dead)) == 3 and record.xrange(keys.dead))
    reasons = [fields["reason"] for _, fields in dead]
    assert "unknown message type 'evil_module:EventPayload'" in reasons[0]
    assert "not JSON" in reasons[1]
    assert "no 'data' field" in reasons[2]
    assert all(fields["stream"] == keys.events for _, fields in dead)
    assert not marker.exists() and "evil_module" not in sys.modules


async def test_reply_streams_are_trimmed(
    bus: MessageBus, redis_server, workers, ns, record
) -> None:
    """A command's result reaches its caller's reply stream, kept to about 1000 entries."""
    from dist_messages import Echo

    from llmgine.distributed.scripts import REPLIES_MAXLEN

    workers.start("w1")
    await bus.attach(caller(redis_server.url, ns))
    await asyncio.gather(*(bus.execute(Echo(str(i))) for i in range(REPLIES_MAXLEN + 600)))
    assert 0 < record.xlen(Keys(ns).reply("caller")) < REPLIES_MAXLEN + 300


async def test_scheduled_events_fire_once_cluster_wide_after_their_node_stopped(
    bus: MessageBus, redis_server, workers, ns, record
) -> None:
    workers.start("w1", "w2", "w3", no_commands=True)
    await bus.attach(caller(redis_server.url, ns))
    due = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=1.0)
    ticks = [Tick(n=i, scheduled_time=due + dt.timedelta(milliseconds=10 * i)) for i in range(40)]
    for tick in ticks:
        await bus.publish(tick)
    assert bus.pending_scheduled == []  # shared: scheduled in Redis, not in this process
    await bus.detach()  # the node that scheduled them leaves before they are due
    await bus.stop()
    started = time.time()
    for node in ("w1", "w2", "w3"):
        await apoll(lambda node=node: len(got(record, ns, node)) >= 40, what=f"{node}'s ticks")
    for node in ("w1", "w2", "w3"):
        lines = got(record, ns, node)
        assert sorted(int(line.split(":")[2]) for line in lines) == list(range(40)), node
        assert len(lines) == 40
        for line in lines:  # never early
            n, received = int(line.split(":")[2]), float(line.split(":")[3])
            assert received >= ticks[n].scheduled_time.timestamp(), line
    assert record.zcard(Keys(ns).schedule) == 0
    assert time.time() - started < 30


async def test_the_other_nodes_count_as_handlers_of_a_shared_type(
    bus: MessageBus, redis_server, ns
) -> None:
    """An engine builds its events only when someone would get them: another node would."""
    assert not bus.has_handlers(Note, "s1")
    await bus.attach(caller(redis_server.url, ns))
    assert bus.has_handlers(Note, "s1") and bus.has_handlers(Tick)
    assert not bus.has_handlers(Local, "s1")
    await bus.detach()
    assert not bus.has_handlers(Note, "s1")
