"""BusSession: entering and leaving, its events, its handlers and its commands."""

import asyncio
import re

import pytest

from llmgine.bus.bus import MessageBus
from llmgine.bus.session import BusSession
from llmgine.errors import NoCommandHandlerError, SessionClosedError
from llmgine.messages import (
    GLOBAL,
    ROOT,
    Command,
    CommandResult,
    Event,
    SessionEndEvent,
    SessionEvent,
    SessionStartEvent,
)

TIMEOUT = 10.0


class SessNote(Event):
    text: str = ""


class SessAsk(Command):
    question: str = ""


def _global_session_events(bus: MessageBus) -> list[SessionEvent]:
    seen: list[SessionEvent] = []
    bus.register_event_handler(SessionEvent, seen.append, session_id=GLOBAL)
    return seen


async def test_async_with_publishes_start_and_end_events(bus: MessageBus) -> None:
    seen = _global_session_events(bus)
    async with bus.create_session() as session:
        assert session.active
        assert [type(e) for e in seen] == [SessionStartEvent]  # delivered on entry
    assert [type(e) for e in seen] == [SessionStartEvent, SessionEndEvent]
    assert [e.session_id for e in seen] == [session.session_id] * 2
    end = seen[1]
    assert isinstance(end, SessionEndEvent) and end.error is None
    assert not session.active


async def test_session_handlers_see_their_own_end_event_with_async_with(bus: MessageBus) -> None:
    seen: list[Event] = []
    async with bus.create_session() as session:
        session.register_event_handler(SessionEndEvent, seen.append)
    assert [type(e) for e in seen] == [SessionEndEvent]
    assert seen[0].session_id == session.session_id


@pytest.mark.parametrize("started", [True, False], ids=["started", "not-started"])
async def test_plain_with_queues_start_and_end_events(fresh_bus: MessageBus, started: bool) -> None:
    bus = fresh_bus
    if started:
        await bus.start()
    seen = _global_session_events(bus)
    notes: list[str] = []
    with bus.create_session() as session:
        session.register_event_handler(SessNote, lambda e: notes.append(e.text))
        await session.publish(SessNote(text="inside"))  # waits behind the queued start
        assert [type(e) for e in seen] == [SessionStartEvent]
    await asyncio.wait_for(bus.wait_for_events(), TIMEOUT)
    assert notes == ["inside"]
    assert [type(e) for e in seen] == [SessionStartEvent, SessionEndEvent]
    assert [e.session_id for e in seen] == [session.session_id] * 2
    assert not session.active


async def test_plain_with_events_are_queued_not_delivered(fresh_bus: MessageBus) -> None:
    seen = _global_session_events(fresh_bus)
    with fresh_bus.create_session():
        pass
    assert seen == []  # nothing can be awaited in a plain with
    await asyncio.wait_for(fresh_bus.wait_for_events(), TIMEOUT)
    assert [type(e) for e in seen] == [SessionStartEvent, SessionEndEvent]


async def test_end_event_carries_the_error_of_async_with(bus: MessageBus) -> None:
    seen = _global_session_events(bus)
    error = KeyError("lost key")
    with pytest.raises(KeyError) as raised:
        async with bus.create_session() as session:
            raise error
    assert raised.value is error
    assert not session.active
    end = seen[-1]
    assert isinstance(end, SessionEndEvent)
    assert end.error is error


async def test_end_event_carries_the_error_of_plain_with(bus: MessageBus) -> None:
    seen = _global_session_events(bus)
    error = ValueError("bad value")
    with pytest.raises(ValueError) as raised:
        with bus.create_session():
            raise error
    assert raised.value is error
    await asyncio.wait_for(bus.wait_for_events(), TIMEOUT)
    end = seen[-1]
    assert isinstance(end, SessionEndEvent)
    assert end.error is error


async def test_handlers_are_unregistered_after_exit(bus: MessageBus) -> None:
    notes: list[str] = []
    async with bus.create_session() as session:
        sid = session.session_id
        session.register_event_handler(SessNote, lambda e: notes.append(e.text))
        session.register_command_handler(SessAsk, lambda c: "session answer")
        await session.publish(SessNote(text="during"))
        assert (await session.execute_with_session(SessAsk())).result == "session answer"
        assert bus.has_handlers(SessNote, sid)
    assert not bus.has_handlers(SessNote, sid)
    await bus.publish(SessNote(text="after", session_id=sid))
    assert notes == ["during"]
    with pytest.raises(NoCommandHandlerError):
        await bus.execute(SessAsk(session_id=sid))
    bus.register_command_handler(SessAsk, lambda c: "root answer")
    assert (await bus.execute(SessAsk(session_id=sid))).result == "root answer"
    assert bus.unregister_session_handlers(sid) == 0


async def test_handlers_are_unregistered_after_plain_with(bus: MessageBus) -> None:
    with bus.create_session() as session:
        session.register_event_handler(SessNote, lambda e: None)
        session.register_command_handler(SessAsk, lambda c: None)
    assert not bus.has_handlers(SessNote, session.session_id)
    with pytest.raises(NoCommandHandlerError):
        await bus.execute(SessAsk(session_id=session.session_id))
    await asyncio.wait_for(bus.wait_for_events(), TIMEOUT)


async def test_ended_session_rejects_use(bus: MessageBus) -> None:
    async with bus.create_session() as session:
        pass
    with pytest.raises(SessionClosedError, match=session.session_id):
        session.register_event_handler(SessNote, lambda e: None)
    with pytest.raises(RuntimeError):
        session.register_command_handler(SessAsk, lambda c: None)
    with pytest.raises(SessionClosedError):
        await session.execute_with_session(SessAsk())
    with pytest.raises(SessionClosedError):
        await session.publish(SessNote())
    with pytest.raises(SessionClosedError):
        async with session:
            pass
    with pytest.raises(SessionClosedError):
        with session:
            pass
    assert not bus.has_handlers(SessNote, session.session_id)


async def test_end_is_idempotent(bus: MessageBus) -> None:
    seen = _global_session_events(bus)
    session = bus.create_session()
    async with session:
        await session.end()
        assert not session.active
    await session.end()
    assert [type(e) for e in seen] == [SessionStartEvent, SessionEndEvent]


async def test_execute_with_session_uses_the_session_handler(bus: MessageBus) -> None:
    bus.register_command_handler(SessAsk, lambda c: CommandResult(True, result="root"))
    async with bus.create_session() as session:
        session.register_command_handler(SessAsk, lambda c: f"session {c.session_id}")
        command = SessAsk(question="who?")
        assert command.session_id == ROOT
        result = await session.execute_with_session(command)
        assert command.session_id == session.session_id
        assert result.success
        assert result.result == f"session {session.session_id}"
        assert result.session_id == session.session_id
        assert (await bus.execute(SessAsk())).result == "root"


async def test_register_methods_take_the_type_first(bus: MessageBus) -> None:
    notes: list[str] = []
    async with bus.create_session() as session:
        returned = session.register_event_handler(SessNote, lambda e: notes.append(e.text))
        assert returned is session
        session.register_command_handler(command_type=SessAsk, handler=lambda c: c.question)
        session.register_event_handler(
            event_type=SessNote, handler=lambda e: notes.append(e.text.upper())
        )
        await session.publish(SessNote(text="mine"))
        await bus.publish(SessNote(text="root"))  # not this session's
        await bus.publish(SessNote(text="other", session_id="someone-else"))
        result = await session.execute_with_session(SessAsk(question="q?"))
    assert notes == ["mine", "MINE"]
    assert result.result == "q?"


async def test_session_publish_sets_the_session_id(bus: MessageBus) -> None:
    received: list[SessNote] = []
    async with bus.create_session("pub-session") as session:
        session.register_event_handler(SessNote, received.append)
        note = SessNote(text="x")
        await session.publish(note)
    assert note.session_id == "pub-session"
    assert received == [note]


def test_session_id_given_or_generated() -> None:
    bus = MessageBus()
    given = bus.create_session("my-session")
    assert given.session_id == "my-session"
    assert given.bus is bus
    first, second = bus.create_session(), bus.create_session()
    assert re.fullmatch(r"[0-9a-f]{32}", first.session_id)
    assert first.session_id != second.session_id
    assert BusSession().bus is MessageBus()
    assert BusSession(id="direct").session_id == "direct"
    assert repr(given) == "BusSession('my-session', active)"
