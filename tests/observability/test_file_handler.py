"""FileEventHandler: compact JSONL, buffering and flushing, file handling."""

import asyncio
import datetime as dt
import json
import logging
import os
import re
import stat
from collections.abc import Callable, Iterator
from dataclasses import field
from pathlib import Path
from typing import Any

import pytest

from llmgine.bus.bus import MessageBus
from llmgine.messages import (
    Command,
    CommandResultEvent,
    CommandStartedEvent,
    Event,
    EventHandlerFailedEvent,
)
from llmgine.observability import FileEventHandler, Redactor

DEADLINE = 20.0  # seconds; generous for a busy machine


class Note(Event):
    text: str = ""
    count: int = 0
    tags: list[str] = field(default_factory=list)


class Order(Command):
    item: str = ""


MakeHandler = Callable[..., FileEventHandler]


@pytest.fixture
def make_handler(tmp_path: Path) -> Iterator[MakeHandler]:
    handlers: list[FileEventHandler] = []

    def make(**kwargs: Any) -> FileEventHandler:
        kwargs.setdefault("log_dir", tmp_path / "logs")
        kwargs.setdefault("filename", "events.jsonl")
        kwargs.setdefault("redactor", Redactor(use_environment=False))
        handler = FileEventHandler(**kwargs)
        handlers.append(handler)
        return handler

    yield make
    for handler in handlers:
        handler.close()


def read_lines(path: Path) -> list[str]:
    if not path.exists():
        return []
    text = path.read_text(encoding="utf-8")
    assert text == "" or text.endswith("\n")
    return text.splitlines()


def read_objects(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in read_lines(path)]


async def wait_until(condition: Callable[[], bool], what: str) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + DEADLINE
    while not condition():
        if loop.time() > deadline:
            pytest.fail(f"timed out after {DEADLINE}s waiting for {what}")
        await asyncio.sleep(0.01)


# -- line format ------------------------------------------------------------


async def test_lines_are_compact_json_objects_with_every_field(
    bus: MessageBus, make_handler: MakeHandler
) -> None:
    handler = make_handler(flush_interval=3600)
    bus.register_observability_handler(handler)
    events = [
        Note("first", 1, ["a"], session_id="S1", metadata={"source": "test"}),
        Note("second", 2, []),
    ]
    for event in events:
        await bus.publish(event)
    await bus.stop()

    lines = read_lines(handler.log_file)
    assert len(lines) == 2
    for line, event in zip(lines, events, strict=True):
        obj = json.loads(line)
        # compact: exactly what a separator-less dump of the same object gives
        assert line == json.dumps(obj, separators=(",", ":"), ensure_ascii=False)
        assert obj["event_type"] == "Note"
        assert obj["message_type"] == f"{__name__}:Note"
        assert obj["event_id"] == event.event_id
        assert obj["session_id"] == event.session_id
        assert obj["text"] == event.text and obj["count"] == event.count
        assert obj["tags"] == event.tags
        assert obj["metadata"]["emitted_from"] == event.metadata["emitted_from"]
        assert obj["parent_id"] is None and obj["trace_id"] == event.event_id
        assert dt.datetime.fromisoformat(obj["timestamp"]) == event.timestamp
        # a log line loads back into the event
        assert Event.from_dict(obj) == event
    assert read_objects(handler.log_file)[0]["metadata"]["source"] == "test"


async def test_trace_fields_of_nested_events(bus: MessageBus, make_handler: MakeHandler) -> None:
    handler = make_handler(flush_interval=3600)
    bus.register_observability_handler(handler)

    async def on_note(event: Note) -> None:
        if event.text == "outer":
            await bus.publish(Note("inner"))

    bus.register_event_handler(Note, on_note)
    outer = Note("outer")
    await bus.publish(outer)
    handler.flush()

    objects = {obj["text"]: obj for obj in read_objects(handler.log_file)}
    assert set(objects) == {"outer", "inner"}
    assert objects["inner"]["parent_id"] == outer.event_id
    assert objects["inner"]["trace_id"] == outer.trace_id == outer.event_id


def test_default_filename_is_the_utc_time_and_a_run_id(tmp_path: Path) -> None:
    before = dt.datetime.now(dt.UTC).replace(microsecond=0, tzinfo=None)
    handler = FileEventHandler(tmp_path / "logs")
    after = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    try:
        assert handler.log_file.parent == tmp_path / "logs"
        match = re.fullmatch(r"(\d{8}T\d{6})Z-([0-9a-f]{12})\.jsonl", handler.log_file.name)
        assert match, handler.log_file.name
        stamp = dt.datetime.strptime(match.group(1), "%Y%m%dT%H%M%S")
        assert before <= stamp <= after
        assert match.group(2) == handler.run_id
        assert not handler.log_dir.exists()  # created when first written
        handler.handle(Note("x"))  # no running loop: handed to the writer at once
        assert handler._buffer == []
        handler._writer.wait()
        assert len(read_lines(handler.log_file)) == 1
    finally:
        handler.close()


def test_file_is_private_to_its_owner(make_handler: MakeHandler) -> None:
    handler = make_handler()
    handler.handle(Note("x"))
    handler.flush()
    assert stat.S_IMODE(os.stat(handler.log_file).st_mode) == 0o600


# -- buffering and flushing -------------------------------------------------


async def test_nothing_is_written_until_bus_stop(
    bus: MessageBus, make_handler: MakeHandler
) -> None:
    handler = make_handler(flush_interval=3600)
    bus.register_observability_handler(handler)
    for index in range(5):
        await bus.publish(Note(f"n{index}"))
    await asyncio.sleep(0.05)
    assert not handler.log_file.exists()

    await bus.stop()
    assert [obj["text"] for obj in read_objects(handler.log_file)] == [f"n{i}" for i in range(5)]
    assert handler._timer is None


async def test_buffer_is_written_within_the_flush_interval(
    bus: MessageBus, make_handler: MakeHandler
) -> None:
    handler = make_handler(flush_interval=0.05)
    bus.register_observability_handler(handler)
    await bus.publish(Note("one"))
    timer = handler._timer
    assert timer is not None
    assert not handler.log_file.exists()
    await bus.publish(Note("two"))
    assert handler._timer is timer  # one timer per batch, not one per event

    await wait_until(lambda: handler._timer is None, "the flush timer")
    await wait_until(lambda: len(read_lines(handler.log_file)) == 2, "the writer thread")
    assert [obj["text"] for obj in read_objects(handler.log_file)] == ["one", "two"]

    # the next event arms a new timer, which writes it in turn
    await bus.publish(Note("three"))
    assert handler._timer is not None
    await wait_until(lambda: handler._timer is None, "the second flush timer")
    await wait_until(lambda: len(read_lines(handler.log_file)) == 3, "the writer thread")
    assert [obj["text"] for obj in read_objects(handler.log_file)] == ["one", "two", "three"]


async def test_full_buffer_is_written_at_once(bus: MessageBus, make_handler: MakeHandler) -> None:
    handler = make_handler(flush_interval=3600, buffer_size=3)
    bus.register_observability_handler(handler)
    await bus.publish(Note("a"))
    await bus.publish(Note("b"))
    assert not handler.log_file.exists()
    await bus.publish(Note("c"))
    assert handler._buffer == []  # handed to the writer thread at once
    assert handler._timer is None
    handler._writer.wait()
    assert [obj["text"] for obj in read_objects(handler.log_file)] == ["a", "b", "c"]
    await bus.publish(Note("d"))
    handler._writer.wait()
    assert len(read_lines(handler.log_file)) == 3


async def test_close_then_more_events_reopens_and_appends(
    bus: MessageBus, make_handler: MakeHandler
) -> None:
    handler = make_handler(flush_interval=3600)
    handler.log_file.parent.mkdir(parents=True)
    handler.log_file.write_text('{"earlier":"line"}\n')
    bus.register_observability_handler(handler)

    await bus.publish(Note("before close"))
    handler.close()
    assert handler._writer.fd is None
    assert len(read_lines(handler.log_file)) == 2

    await bus.publish(Note("after close"))
    handler.close()
    objects = read_objects(handler.log_file)
    assert objects[0] == {"earlier": "line"}
    assert [obj["text"] for obj in objects[1:]] == ["before close", "after close"]


# -- fast and careful paths -------------------------------------------------


async def test_plain_and_complex_events_both_give_loadable_lines(
    bus: MessageBus, make_handler: MakeHandler
) -> None:
    handler = make_handler(flush_interval=3600)
    careful: list[str] = []
    to_dict = handler.event_to_dict

    def spy(event: Any) -> dict[str, Any]:
        careful.append(type(event).__name__)
        return to_dict(event)

    handler.event_to_dict = spy  # type: ignore[method-assign]
    bus.register_observability_handler(handler)

    def on_order(command: Order) -> str:
        return f"ordered {command.item}"

    def on_note(event: Note) -> None:
        raise RuntimeError("note handler broke")

    bus.register_command_handler(Order, on_order)
    bus.register_event_handler(Note, on_note)

    plain = Note("plain", 3, ["x"])
    await bus.publish(plain)
    order = Order(item="tea")
    await bus.execute(order)
    await bus.stop()

    # the plain event took the fast path, the others the careful one
    assert "Note" not in careful
    assert {"EventHandlerFailedEvent", "CommandStartedEvent", "CommandResultEvent"} <= set(careful)

    objects = read_objects(handler.log_file)
    by_type = {obj["event_type"]: obj for obj in objects}
    assert set(by_type) == {
        "Note",
        "EventHandlerFailedEvent",
        "CommandStartedEvent",
        "CommandResultEvent",
    }
    assert by_type["Note"]["text"] == "plain"
    failed = by_type["EventHandlerFailedEvent"]
    assert failed["exception"] == "RuntimeError: note handler broke"
    assert failed["event"]["event_id"] == plain.event_id
    assert failed["parent_id"] == plain.event_id
    started = by_type["CommandStartedEvent"]
    assert started["command"]["message_type"] == f"{__name__}:Order"
    assert started["command"]["item"] == "tea"
    assert started["trace_id"] == order.command_id
    assert by_type["CommandResultEvent"]["command_result"]["result"] == "ordered tea"

    # every line loads back into its event class
    restored = [Event.from_dict(obj) for obj in objects]
    kinds = {type(event) for event in restored}
    assert {Note, EventHandlerFailedEvent, CommandStartedEvent, CommandResultEvent} == kinds
    started_event = next(e for e in restored if isinstance(e, CommandStartedEvent))
    assert started_event.command == order


def test_fast_path_line_matches_the_careful_one(make_handler: MakeHandler) -> None:
    fast = make_handler(filename="fast.jsonl")
    event = Note("same", 7, ["t"], metadata={"k": [1, {"z": None}]})
    assert not fast.redactor.needs_redaction(event)
    fast.handle(event)
    fast.flush()
    (line,) = read_lines(fast.log_file)
    assert json.loads(line) == fast.event_to_dict(event)


# -- failures ---------------------------------------------------------------


async def test_unwritable_log_dir_warns_and_keeps_events(
    bus: MessageBus,
    make_handler: MakeHandler,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    blocker = tmp_path / "blocker"
    blocker.write_text("a file where a directory should be")
    handler = make_handler(log_dir=blocker / "logs", flush_interval=3600, buffer_size=1)
    bus.register_observability_handler(handler)
    caplog.set_level(logging.WARNING, logger="llmgine.observability")

    await bus.publish(Note("lost?"))  # must not raise
    await bus.publish(Note("still here?"))
    handler._writer.wait()

    warnings = [
        r
        for r in caplog.records
        if r.name == "llmgine.observability" and r.levelno == logging.WARNING
    ]
    assert len(warnings) == 1  # warned once, not per event
    assert "Cannot write event log" in warnings[0].getMessage()
    assert str(handler.log_file) in warnings[0].getMessage()
    assert bus.event_handler_errors == []

    # once the directory can be made, the kept events are written
    blocker.unlink()
    await bus.publish(Note("third"))
    handler._writer.wait()
    assert [obj["text"] for obj in read_objects(handler.log_file)] == [
        "lost?",
        "still here?",
        "third",
    ]


def test_writer_thread_ends_with_its_handler(tmp_path: Path) -> None:
    import gc
    import threading

    handler = FileEventHandler(tmp_path, filename="dropped.jsonl")
    handler.handle(Note("x"))
    handler.flush()
    thread = handler._writer._thread
    assert thread is not None and thread.is_alive()
    del handler
    gc.collect()
    assert not thread.is_alive()
    assert thread not in threading.enumerate()
    assert len(read_lines(tmp_path / "dropped.jsonl")) == 1


def test_ensure_log_dir_creates_it_or_names_it_in_the_error(tmp_path: Path) -> None:
    from llmgine.errors import ConfigurationError
    from llmgine.observability.file import ensure_log_dir

    assert ensure_log_dir(tmp_path / "a" / "b") == tmp_path / "a" / "b"
    assert (tmp_path / "a" / "b").is_dir() and not list((tmp_path / "a" / "b").iterdir())
    (tmp_path / "file").write_text("x")
    with pytest.raises(ConfigurationError) as info:
        ensure_log_dir(tmp_path / "file" / "logs")
    assert str(tmp_path / "file" / "logs") in str(info.value)
    assert "--log-dir" in str(info.value)


def test_handlers_started_together_never_share_a_file(tmp_path: Path) -> None:
    handlers = [FileEventHandler(tmp_path) for _ in range(4)]
    try:
        assert len({h.log_file for h in handlers}) == 4
    finally:
        for handler in handlers:
            handler.close()


def test_a_size_cap_rotates_into_numbered_parts_of_whole_lines(tmp_path: Path) -> None:
    handler = FileEventHandler(tmp_path, buffer_size=1, max_bytes=300)
    try:
        for n in range(12):
            handler.handle(Note(f"note {n}"))
        handler.flush()
    finally:
        handler.close()

    def part_number(path: Path) -> int:
        middle = path.name.removesuffix(".jsonl").rpartition(handler.run_id)[2]
        return int(middle.lstrip(".") or 1)

    parts = sorted(tmp_path.glob(f"*{handler.run_id}*.jsonl"), key=part_number)
    assert len(parts) > 1
    assert parts[0] == handler.log_file
    assert all(p.name.startswith(handler.log_file.name.removesuffix(".jsonl")) for p in parts)
    lines = [line for part in parts for line in read_lines(part)]
    assert [json.loads(line)["text"] for line in lines] == [f"note {n}" for n in range(12)]


async def test_a_key_streamed_in_pieces_never_reaches_the_log(
    bus: MessageBus, make_handler: MakeHandler
) -> None:
    from llmgine.engines.messages import EngineTextDeltaEvent

    handler = make_handler(flush_interval=3600)
    bus.register_observability_handler(handler)
    pieces = ["my key is sk-proj-ABCD", "EFGHIJKLMNOP", "QRSTUVWX1234", " so there"]
    deltas = [EngineTextDeltaEvent(text=p, trace_id="t1", parent_id="call-1") for p in pieces]
    for delta in deltas:
        await bus.publish(delta)
    after = Note("after")
    await bus.publish(after)
    await bus.stop()
    text = handler.log_file.read_text()
    assert "ABCD" not in text and "EFGHIJKLMNOP" not in text and "QRSTUVWX" not in text
    objects = read_objects(handler.log_file)
    # Every piece has its line, in order, before what came next; they join into the masked whole.
    assert [o["event_id"] for o in objects] == [d.event_id for d in deltas] + [after.event_id]
    assert "".join(o["text"] for o in objects[:4]) == "my key is *** so there"
