"""Saving and loading pending events when the disk or the files go wrong."""

import datetime as dt
import json
from pathlib import Path

import pytest

from llmgine.bus import persistence
from llmgine.bus.bus import MessageBus
from llmgine.bus.persistence import PENDING_FILENAME, load_pending
from llmgine.errors import ConfigurationError, LLMgineError
from llmgine.messages import Event, ScheduledEvent
from llmgine.observability import FileEventHandler


class PfPlain(Event):
    n: int = 0


class PfTick(ScheduledEvent):
    label: str = ""


def test_corrupt_files_moved_aside_in_the_same_second_never_overwrite_each_other(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The same second for every move: names must still differ.
    monkeypatch.setattr(persistence.time, "strftime", lambda fmt: "20260101-120000")
    contents = [b"first corrupt file\n", b"second corrupt file\n", b"third\n"]
    for content in contents:
        (tmp_path / PENDING_FILENAME).write_bytes(content)
        assert load_pending(tmp_path) == []
    kept = sorted(tmp_path.glob(f"{PENDING_FILENAME}.corrupt-*"))
    assert [path.name for path in kept] == [
        f"{PENDING_FILENAME}.corrupt-20260101-120000",
        f"{PENDING_FILENAME}.corrupt-20260101-120000-2",
        f"{PENDING_FILENAME}.corrupt-20260101-120000-3",
    ]
    assert [path.read_bytes() for path in kept] == contents
    assert not (tmp_path / PENDING_FILENAME).exists()


async def test_stop_with_an_unusable_data_dir_keeps_the_events_and_flushes_observers(
    fresh_bus: MessageBus, tmp_path: Path
) -> None:
    bus = fresh_bus
    not_a_dir = tmp_path / "a-file"
    not_a_dir.write_text("I am a file, not a directory")
    bus.data_dir = not_a_dir / "data"
    log = FileEventHandler(tmp_path / "logs", "events.jsonl", flush_interval=3600)
    bus.register_observability_handler(log)
    try:
        await bus.start()
        await bus.publish(PfPlain(n=0))  # delivered: in the log's buffer, not yet in its file
        later = PfTick(
            label="in an hour", scheduled_time=dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)
        )
        await bus.publish(later)
        bus.publish_nowait(PfPlain(n=1))
        bus.publish_nowait(PfPlain(n=2))

        with pytest.raises(ConfigurationError) as caught:
            await bus.stop()
        message = str(caught.value)
        assert isinstance(caught.value, LLMgineError)
        assert str(bus.data_dir) in message
        assert "3 undelivered bus events" in message and "kept in memory" in message
        assert not bus.is_running

        # Every observer was flushed: the log holds the last event delivered.
        lines = [
            json.loads(line)
            for line in (tmp_path / "logs" / "events.jsonl").read_text().splitlines()
        ]
        assert [line["n"] for line in lines if line["event_type"] == "PfPlain"] == [0]

        # Nothing was dropped: with a usable directory the next stop() saves all of it.
        assert [event.event_id for event in bus.pending_scheduled] == [later.event_id]
        bus.data_dir = tmp_path / "usable"
        await bus.stop()
        saved = [
            json.loads(line)
            for line in (tmp_path / "usable" / PENDING_FILENAME).read_text().splitlines()
        ]
        assert sorted(record.get("n", -1) for record in saved) == [-1, 1, 2]
    finally:
        bus.unregister_observability_handler(log)
        log.close()


async def test_events_kept_after_a_failed_save_are_delivered_by_the_next_start(
    fresh_bus: MessageBus, tmp_path: Path
) -> None:
    bus = fresh_bus
    (tmp_path / "file").write_text("")
    bus.data_dir = tmp_path / "file"
    delivered: list[int] = []
    bus.register_event_handler(PfPlain, lambda event: delivered.append(event.n))
    bus.publish_nowait(PfPlain(n=7))  # queued on a bus that never started
    with pytest.raises(ConfigurationError, match="1 undelivered bus event "):
        await bus.stop()
    await bus.start()
    await bus.publish(PfPlain(n=8))  # waits behind the queued event
    assert delivered == [7, 8]
