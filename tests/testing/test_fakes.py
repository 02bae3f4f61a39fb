import pytest

from llmgine import Command, CommandResult, Event, MessageBus, NoCommandHandlerError
from llmgine.testing import FakeMessageBus


class FakePing(Command):
    text: str = ""


class FakePinged(Event):
    text: str = ""


async def test_fake_records_messages_and_runs_handlers(fake_bus: FakeMessageBus) -> None:
    seen: list[str] = []

    async def on_pinged(event: FakePinged) -> None:
        seen.append(event.text)

    fake_bus.register_event_handler(FakePinged, on_pinged)
    fake_bus.register_command_handler(FakePing, lambda c: CommandResult(True, result=c.text * 2))
    result = await fake_bus.execute(FakePing("ab"))
    await fake_bus.publish(FakePinged(text="x"))
    assert result.result == "abab"
    assert seen == ["x"]
    assert fake_bus.commands_of_type(FakePing)[0].text == "ab"
    assert [e.text for e in fake_bus.events_of_type(FakePinged)] == ["x"]


async def test_fake_default_result_and_strict_mode() -> None:
    lenient = FakeMessageBus()
    assert (await lenient.execute(FakePing())).success
    strict = FakeMessageBus(strict=True)
    with pytest.raises(NoCommandHandlerError):
        await strict.execute(FakePing())


async def test_fake_sessions_route_and_clean_up(fake_bus: FakeMessageBus) -> None:
    seen: list[str] = []
    async with fake_bus.create_session("s1") as session:
        session.register_event_handler(FakePinged, lambda e: seen.append(e.text))
        await fake_bus.publish(FakePinged(text="other", session_id="s2"))
        await session.publish(FakePinged(text="mine"))
    await fake_bus.publish(FakePinged(text="after", session_id="s1"))
    assert seen == ["mine"]


async def test_bus_fixture_gives_a_fresh_started_bus(bus: MessageBus) -> None:
    assert bus is MessageBus()
    assert bus.is_running
    assert bus.event_handler_errors == []
    assert bus.observability_handlers == []


def test_the_real_and_the_fake_bus_both_satisfy_the_bus_protocol() -> None:
    from llmgine.bus import Bus

    assert isinstance(MessageBus(), Bus)
    assert isinstance(FakeMessageBus(), Bus)
    assert not isinstance(object(), Bus)
