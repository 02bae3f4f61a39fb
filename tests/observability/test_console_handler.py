"""ConsoleEventHandler: one readable log line per event."""

import logging
from dataclasses import field

import pytest

from llmgine.bus.bus import MessageBus
from llmgine.messages import Event, EventHandlerFailedEvent
from llmgine.observability import ConsoleEventHandler, Redactor

EVENTS_LOGGER = "llmgine.events"


class Note(Event):
    text: str = ""
    count: int = 0
    data: dict[str, int] = field(default_factory=dict)


def event_records(caplog: pytest.LogCaptureFixture, name: str = EVENTS_LOGGER) -> list[str]:
    return [record.getMessage() for record in caplog.records if record.name == name]


@pytest.fixture
def console(caplog: pytest.LogCaptureFixture) -> ConsoleEventHandler:
    caplog.set_level(logging.INFO, logger=EVENTS_LOGGER)
    return ConsoleEventHandler(max_length=10_000, redactor=Redactor(use_environment=False))


async def test_one_line_per_event_with_type_session_and_payload(
    bus: MessageBus, console: ConsoleEventHandler, caplog: pytest.LogCaptureFixture
) -> None:
    bus.register_observability_handler(console)
    first = Note("hello", 3, {"a": 1})
    second = Note("bye", session_id="S-42")
    await bus.publish(first)
    await bus.publish(second)

    lines = event_records(caplog)
    assert len(lines) == 2
    assert lines[0].startswith("[EVENT] Note ")
    assert "session=ROOT" in lines[0]
    assert f"id={first.event_id[:8]}" in lines[0]
    assert "text=hello" in lines[0] and "count=3" in lines[0]
    assert 'data={"a":1}' in lines[0]
    assert "session=S-42" in lines[1] and "text=bye" in lines[1]
    # the short ids tell events apart
    assert f"id={second.event_id[:8]}" in lines[1]
    assert f"id={first.event_id[:8]}" not in lines[1]
    # framework fields are left out of the payload
    for line in lines:
        assert "trace_id=" not in line and "metadata=" not in line
        assert "emitted_from" not in line
    assert all(r.levelno == logging.INFO for r in caplog.records if r.name == EVENTS_LOGGER)


async def test_newlines_are_escaped(
    bus: MessageBus, console: ConsoleEventHandler, caplog: pytest.LogCaptureFixture
) -> None:
    bus.register_observability_handler(console)
    await bus.publish(Note("line one\nline two\r\nend"))
    (line,) = event_records(caplog)
    assert "\n" not in line
    assert "text=line one\\nline two\r\\nend" in line


async def test_long_lines_are_cut(bus: MessageBus, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger=EVENTS_LOGGER)
    short = ConsoleEventHandler(max_length=60, redactor=Redactor(use_environment=False))
    default = ConsoleEventHandler(redactor=Redactor(use_environment=False))
    assert default.max_length == 300
    bus.register_observability_handler(short)
    bus.register_observability_handler(default)

    await bus.publish(Note("x" * 1000))
    cut_short, cut_default = event_records(caplog)
    assert len(cut_short) == 60 and cut_short.endswith("...")
    assert len(cut_default) == 300 and cut_default.endswith("...")
    assert cut_short.startswith("[EVENT] Note session=ROOT")
    assert cut_default.startswith(cut_short[:-3])

    caplog.clear()
    await bus.publish(Note("tiny"))
    cut_short, whole = event_records(caplog)
    assert whole.endswith("text=tiny count=0 data={}")  # short enough: kept whole
    assert len(cut_short) == 60 and whole.startswith(cut_short[:-3])


async def test_handler_failure_is_logged_at_warning(
    bus: MessageBus, console: ConsoleEventHandler, caplog: pytest.LogCaptureFixture
) -> None:
    bus.register_observability_handler(console)

    def on_note(event: Note) -> None:
        raise ValueError("cannot handle this note")

    bus.register_event_handler(Note, on_note)
    await bus.publish(Note("trouble"))

    records = [r for r in caplog.records if r.name == EVENTS_LOGGER]
    assert [r.getMessage().split()[1] for r in records] == ["Note", "EventHandlerFailedEvent"]
    assert records[0].levelno == logging.INFO
    assert records[1].levelno == logging.WARNING
    assert "ValueError: cannot handle this note" in records[1].getMessage()
    assert "on_note" in records[1].getMessage()


async def test_failure_warning_is_logged_even_when_info_is_off(
    bus: MessageBus, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger=EVENTS_LOGGER)
    bus.register_observability_handler(ConsoleEventHandler())
    await bus.publish(Note("quiet"))
    await bus.publish(EventHandlerFailedEvent(handler="h", exception=RuntimeError("loud")))
    lines = event_records(caplog)
    assert len(lines) == 1
    assert lines[0].startswith("[EVENT] EventHandlerFailedEvent")


async def test_custom_logger_and_level(bus: MessageBus, caplog: pytest.LogCaptureFixture) -> None:
    logger = logging.getLogger("tests.console.custom")
    caplog.set_level(logging.INFO, logger=logger.name)
    bus.register_observability_handler(ConsoleEventHandler(logger=logger, level=logging.DEBUG))
    await bus.publish(Note("debug only"))
    assert event_records(caplog, logger.name) == []  # DEBUG is below INFO

    caplog.set_level(logging.DEBUG, logger=logger.name)
    await bus.publish(Note("now visible"))
    records = [r for r in caplog.records if r.name == logger.name]
    assert len(records) == 1 and records[0].levelno == logging.DEBUG
    assert "text=now visible" in records[0].getMessage()
    assert event_records(caplog) == []  # nothing went to the default logger
