"""The sessions of the web front end: kept a while for a reconnect, then ended; bounded."""

from __future__ import annotations

import asyncio

import pytest
from web_helpers import engine_factory

from llmgine.bus.bus import MessageBus
from llmgine.errors import ConfigurationError
from llmgine.testing import ScriptedModel
from llmgine.web.registry import (
    CLOSE_ENDED,
    CLOSE_SUPERSEDED,
    Connection,
    SessionRegistry,
    TooManySessionsError,
)
from llmgine.web.session import WebSession


def registry(bus: MessageBus, **options: object) -> SessionRegistry:
    factory = engine_factory(lambda: ScriptedModel(["hi"] * 10))
    return SessionRegistry(factory, bus=bus, **options)  # type: ignore[arg-type]


async def until_closed(session: WebSession) -> None:
    async with asyncio.timeout(30):
        while not session.closed:
            await session.outbox.wait(session.outbox.last_seq)


async def test_a_session_without_a_connection_ends_after_the_idle_time(bus: MessageBus) -> None:
    sessions = registry(bus, idle_timeout=0.05)
    connection = Connection()
    session, resumed = await sessions.attach(None, connection)
    assert not resumed and sessions.connected(session.session_id)
    sessions.detach(session, connection)
    assert not sessions.connected(session.session_id)
    await until_closed(session)
    assert session.session_id not in sessions.sessions
    assert bus.unregister_session_handlers(session.session_id) == 0


async def test_a_reconnect_in_time_keeps_the_session(bus: MessageBus) -> None:
    sessions = registry(bus, idle_timeout=3600)
    first = Connection()
    session, _ = await sessions.attach(None, first)
    sessions.detach(session, first)
    again, resumed = await sessions.attach(session.session_id, Connection())
    assert resumed and again is session and not session.closed
    await sessions.close_all()
    assert session.closed and sessions.sessions == {}


async def test_a_second_connection_takes_over_and_the_first_lets_go_harmlessly(
    bus: MessageBus,
) -> None:
    sessions = registry(bus, idle_timeout=3600)
    first, second = Connection(), Connection()
    session, _ = await sessions.attach(None, first)
    await sessions.attach(session.session_id, second)
    assert first.close_code == CLOSE_SUPERSEDED and second.close_code is None
    sessions.detach(session, first)  # the old connection ends: the new one keeps it
    assert sessions.connected(session.session_id)
    await sessions.close_session(session.session_id)
    assert second.close_code == CLOSE_ENDED


async def test_the_longest_idle_session_makes_room_and_connected_ones_are_kept(
    bus: MessageBus,
) -> None:
    sessions = registry(bus, max_sessions=2, idle_timeout=3600)
    a, b, c = Connection(), Connection(), Connection()
    first, _ = await sessions.attach(None, a)
    second, _ = await sessions.attach(None, b)
    with pytest.raises(TooManySessionsError, match="2 tabs are connected"):
        await sessions.attach(None, c)
    sessions.detach(first, a)
    third, _ = await sessions.attach(None, c)
    assert first.closed and set(sessions.sessions) == {second.session_id, third.session_id}
    await sessions.close_all()


async def test_an_engine_that_cannot_be_made_is_an_error_and_no_session(bus: MessageBus) -> None:
    async def broken(session_id: str) -> object:
        raise ConfigurationError("the tools could not load")

    sessions = SessionRegistry(broken, bus=bus)  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="could not load"):
        await sessions.attach(None, Connection())
    assert sessions.sessions == {}
