"""Scheduled events, and saving undelivered events across a restart."""

import asyncio
import dataclasses
import datetime as dt
import json
import logging
import os
import stat
import time
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

import llmgine
from llmgine.bus.bus import MessageBus
from llmgine.bus.persistence import PENDING_FILENAME, default_data_dir
from llmgine.messages import Event, ScheduledEvent

TIMEOUT = 10.0


class SchTick(ScheduledEvent):
    label: str = ""


class SchPlain(Event):
    n: int = 0


@dataclasses.dataclass
class SchPayload:
    name: str
    size: int


class SchReminder(ScheduledEvent):
    text: str = ""
    count: int = 0
    tags: list[str] = dataclasses.field(default_factory=list)
    payload: SchPayload | None = None
    due: dt.datetime | None = None


def in_seconds(seconds: float) -> dt.datetime:
    return dt.datetime.now(dt.UTC) + dt.timedelta(seconds=seconds)


class Recorder:
    """Handler that records (event, delivery time) and resolves a future after ``expected``."""

    def __init__(self, expected: int = 1) -> None:
        self.expected = expected
        self.calls: list[tuple[Event, float]] = []
        self.done: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def __call__(self, event: Event) -> None:
        self.calls.append((event, time.time()))
        if len(self.calls) >= self.expected and not self.done.done():
            self.done.set_result(None)

    async def wait(self) -> None:
        await asyncio.wait_for(self.done, TIMEOUT)

    @property
    def events(self) -> list[Event]:
        return [event for event, _ in self.calls]


def pending_file(bus: MessageBus) -> Path:
    assert bus.data_dir is not None
    return Path(bus.data_dir) / PENDING_FILENAME


def assert_outside_package(path: Path) -> None:
    package_dir = Path(llmgine.__file__).resolve().parent
    assert package_dir not in path.resolve().parents
    assert not list(package_dir.rglob(f"{PENDING_FILENAME}*"))


@pytest.fixture
def local_timezone_utc_plus_5() -> Iterator[None]:
    """Run with a local time zone five hours ahead of UTC (no tz database needed)."""
    previous = os.environ.get("TZ")
    os.environ["TZ"] = "LLG-5"
    time.tzset()
    try:
        yield
    finally:
        if previous is None:
            del os.environ["TZ"]
        else:
            os.environ["TZ"] = previous
        time.tzset()


# -- delivery at the scheduled time ------------------------------------------------


async def test_scheduled_event_is_delivered_at_its_time_not_before(bus: MessageBus) -> None:
    recorder = Recorder()
    bus.register_event_handler(SchTick, recorder)
    event = SchTick(label="later", scheduled_time=in_seconds(0.3))
    due = event.scheduled_time.timestamp()
    await bus.publish(event)
    await asyncio.sleep(0.05)  # only shows that it did not fire early
    if time.time() < due:
        assert recorder.calls == []
    await recorder.wait()
    [(delivered, at)] = recorder.calls
    assert delivered is event
    assert at >= due
    assert bus.pending_scheduled == []


async def test_publishing_a_scheduled_event_returns_at_once(bus: MessageBus) -> None:
    recorder = Recorder()
    bus.register_event_handler(SchTick, recorder)
    event = SchTick(scheduled_time=in_seconds(0.2))
    await bus.publish(event)
    assert recorder.calls == []
    assert bus.pending_scheduled == [event]
    await recorder.wait()
    assert recorder.calls[0][1] >= event.scheduled_time.timestamp()


async def test_scheduled_event_published_before_start_fires_after_start(
    fresh_bus: MessageBus,
) -> None:
    recorder = Recorder()
    fresh_bus.register_event_handler(SchTick, recorder)
    event = SchTick(scheduled_time=in_seconds(-1))  # already due
    await fresh_bus.publish(event)
    fresh_bus.publish_nowait(SchTick(scheduled_time=in_seconds(-1)))  # same path, sync
    await fresh_bus.wait_for_events()
    assert recorder.calls == []  # not started: it waits for start()
    recorder.expected = 2
    await fresh_bus.start()
    await recorder.wait()
    assert recorder.events[0] is event


async def test_naive_local_and_aware_utc_times_are_both_accepted(bus: MessageBus) -> None:
    recorder = Recorder(expected=2)
    bus.register_event_handler(SchTick, recorder)
    naive = SchTick(label="naive", scheduled_time=dt.datetime.now() + dt.timedelta(seconds=0.2))
    aware = SchTick(label="aware", scheduled_time=in_seconds(0.1))
    assert naive.scheduled_time.tzinfo is None
    await bus.publish(naive)
    await bus.publish(aware)
    await recorder.wait()
    assert [e.label for e in recorder.events] == ["aware", "naive"]
    for event, at in recorder.calls:
        assert isinstance(event, SchTick)
        assert at >= event.scheduled_time.timestamp()


async def test_naive_time_is_read_as_local_time(
    local_timezone_utc_plus_5: None, bus: MessageBus
) -> None:
    recorder = Recorder(expected=2)
    bus.register_event_handler(SchTick, recorder)
    local_now = dt.datetime.now()
    assert local_now - dt.datetime.now(dt.UTC).replace(tzinfo=None) > dt.timedelta(hours=4)
    # Read as UTC this would be five hours away, and the test would time out.
    naive = SchTick(label="naive", scheduled_time=local_now + dt.timedelta(seconds=0.2))
    default = SchTick(label="default")  # scheduled_time defaults to "now", naive local
    await bus.publish(naive)
    await bus.publish(default)
    await recorder.wait()
    assert [e.label for e in recorder.events] == ["default", "naive"]
    assert recorder.calls[1][1] >= naive.scheduled_time.timestamp()


async def test_scheduled_events_fire_in_time_order(bus: MessageBus) -> None:
    recorder = Recorder(expected=5)
    bus.register_event_handler(SchTick, recorder)
    same = in_seconds(0.15)
    events = [
        SchTick(label="c", scheduled_time=in_seconds(0.3)),
        SchTick(label="a", scheduled_time=in_seconds(0.05)),
        SchTick(label="b1", scheduled_time=same),
        SchTick(label="d", scheduled_time=in_seconds(0.35)),
        SchTick(label="b2", scheduled_time=same),  # same time: publish order
    ]
    for event in events:
        await bus.publish(event)
    assert [e.label for e in bus.pending_scheduled] == ["a", "b1", "b2", "c", "d"]
    await recorder.wait()
    assert [e.label for e in recorder.events] == ["a", "b1", "b2", "c", "d"]
    for event, at in recorder.calls:
        assert at >= event.scheduled_time.timestamp()


# -- saving and loading -------------------------------------------------------------


async def test_stop_saves_unfired_scheduled_and_queued_events(bus: MessageBus) -> None:
    delivered: list[Event] = []
    bus.register_event_handler(Event, delivered.append)
    later = SchTick(label="in an hour", scheduled_time=in_seconds(3600))
    await bus.publish(later)
    queued = SchPlain(n=1)
    await bus.publish(queued, await_processing=False)
    await bus.stop()  # called before the consumer task got to run again
    assert delivered == []
    assert bus.pending_scheduled == []

    path = pending_file(bus)
    lines = path.read_bytes().splitlines()
    records = [json.loads(line) for line in lines]
    assert all(isinstance(record, dict) for record in records)
    assert len(records) == 2
    by_id = {record["event_id"]: record for record in records}
    assert by_id[queued.event_id]["message_type"].endswith(":SchPlain")
    assert by_id[queued.event_id]["n"] == 1
    assert by_id[later.event_id]["message_type"].endswith(":SchTick")
    assert by_id[later.event_id]["label"] == "in an hour"


async def test_stop_lets_the_running_handler_finish_and_saves_the_rest(
    bus: MessageBus,
) -> None:
    loop = asyncio.get_running_loop()
    started, release = loop.create_future(), loop.create_future()
    delivered: list[int] = []

    async def slow(event: SchPlain) -> None:
        if event.n == 1:
            started.set_result(None)
            await release
        delivered.append(event.n)

    bus.register_event_handler(SchPlain, slow)
    bus.publish_nowait(SchPlain(n=1))
    await asyncio.wait_for(started, TIMEOUT)
    bus.publish_nowait(SchPlain(n=2))
    stopping = asyncio.create_task(bus.stop())
    release.set_result(None)  # runs after stop() began: call_soon callbacks are FIFO
    await asyncio.wait_for(stopping, TIMEOUT)
    assert delivered == [1]
    assert not bus.is_running
    records = [json.loads(line) for line in pending_file(bus).read_bytes().splitlines()]
    assert [record["n"] for record in records] == [2]


async def test_start_loads_saved_events_delivers_overdue_ones_and_removes_the_file(
    fresh_bus: MessageBus,
) -> None:
    bus = fresh_bus
    overdue = SchTick(label="overdue", scheduled_time=in_seconds(-60))
    future = SchTick(label="future", scheduled_time=in_seconds(3600))
    queued = SchPlain(n=42)
    await bus.publish(overdue)
    await bus.publish(future)
    bus.publish_nowait(queued)
    await bus.stop()  # a bus that never started saves what it holds too
    path = pending_file(bus)
    assert len(path.read_bytes().splitlines()) == 3

    ticks = Recorder()
    plains = Recorder()
    bus.register_event_handler(SchTick, ticks)
    bus.register_event_handler(SchPlain, plains)
    await bus.start()
    assert not path.exists()
    await ticks.wait()
    await plains.wait()
    [tick] = ticks.events
    [plain] = plains.events
    assert isinstance(tick, SchTick) and tick.label == "overdue"
    assert tick.event_id == overdue.event_id
    assert tick.scheduled_time == overdue.scheduled_time
    assert isinstance(plain, SchPlain) and plain.n == 42
    assert plain.event_id == queued.event_id
    [waiting] = bus.pending_scheduled
    assert isinstance(waiting, SchTick) and waiting.label == "future"
    assert waiting.event_id == future.event_id
    assert waiting.scheduled_time == future.scheduled_time

    # Stopping again saves the one still waiting, and only that one.
    await bus.stop()
    records = [json.loads(line) for line in path.read_bytes().splitlines()]
    assert [record["event_id"] for record in records] == [future.event_id]


async def test_custom_scheduled_event_round_trips_as_its_class(fresh_bus: MessageBus) -> None:
    bus = fresh_bus
    due = dt.datetime(2030, 5, 17, 8, 30, tzinfo=dt.UTC)
    original = SchReminder(
        text="water the plants",
        count=3,
        tags=["home", "daily"],
        payload=SchPayload(name="ficus", size=2),
        due=due,
        scheduled_time=in_seconds(3600),
        session_id="garden",
        metadata={"source": "test"},
    )
    overdue = SchReminder(text="overdue one", count=1, scheduled_time=in_seconds(-1))
    await bus.publish(original)
    await bus.publish(overdue)
    await bus.stop()

    received = Recorder()
    bus.register_event_handler(SchReminder, received, session_id="GLOBAL")
    await bus.start()
    await received.wait()
    [delivered] = received.events
    assert type(delivered) is SchReminder
    assert delivered.text == "overdue one"

    [restored] = bus.pending_scheduled
    assert type(restored) is SchReminder
    assert isinstance(restored, SchReminder)
    assert restored.text == "water the plants"
    assert restored.count == 3
    assert restored.tags == ["home", "daily"]
    assert restored.payload == SchPayload(name="ficus", size=2)
    assert restored.due == due
    assert restored.scheduled_time == original.scheduled_time
    assert restored.event_id == original.event_id
    assert restored.session_id == "garden"
    assert restored.trace_id == original.trace_id
    assert restored.metadata["source"] == "test"


@pytest.mark.parametrize(
    "content",
    [b"this is not json at all\n\x00\xff\xfe\n", b"[1, 2, 3]\n", b'{"message_type": 5}\n'],
    ids=["garbage", "not-an-object", "bad-type"],
)
async def test_corrupt_file_is_moved_aside_and_the_bus_starts(
    fresh_bus: MessageBus, caplog: pytest.LogCaptureFixture, content: bytes
) -> None:
    path = pending_file(fresh_bus)
    path.parent.mkdir(parents=True)
    path.write_bytes(content)
    with caplog.at_level(logging.WARNING, logger="llmgine.bus"):
        await fresh_bus.start()
    assert fresh_bus.is_running
    assert not path.exists()
    [kept] = path.parent.glob(f"{PENDING_FILENAME}.corrupt-*")
    assert kept.read_bytes() == content  # nothing is lost
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert str(path) in warnings[0].getMessage()
    assert str(kept) in warnings[0].getMessage()

    # The bus works normally afterwards.
    recorder = Recorder()
    fresh_bus.register_event_handler(SchPlain, recorder)
    fresh_bus.publish_nowait(SchPlain(n=1))
    await recorder.wait()


async def test_partly_corrupt_file_delivers_the_good_events(
    fresh_bus: MessageBus, caplog: pytest.LogCaptureFixture
) -> None:
    good_plain = SchPlain(n=7)
    good_tick = SchTick(label="good", scheduled_time=in_seconds(-5))
    content = b"\n".join(
        [
            orjson.dumps(good_plain.to_dict()),
            b'{"message_type": "no_such_module_xyz:Missing", "n": 1}',
            b"{truncated",
            orjson.dumps(good_tick.to_dict()),
        ]
    )
    path = pending_file(fresh_bus)
    path.parent.mkdir(parents=True)
    path.write_bytes(content)
    plains, ticks = Recorder(), Recorder()
    fresh_bus.register_event_handler(SchPlain, plains)
    fresh_bus.register_event_handler(SchTick, ticks)
    with caplog.at_level(logging.WARNING, logger="llmgine.bus"):
        await fresh_bus.start()
    await plains.wait()
    await ticks.wait()
    assert [e.event_id for e in plains.events] == [good_plain.event_id]
    assert [e.event_id for e in ticks.events] == [good_tick.event_id]
    assert not path.exists()
    [kept] = path.parent.glob(f"{PENDING_FILENAME}.corrupt-*")
    assert kept.read_bytes() == content
    [warning] = [r for r in caplog.records if r.levelno == logging.WARNING]
    message = warning.getMessage()
    assert "2 of 4 lines" in message
    assert str(kept) in message


def test_default_data_dir_is_cwd_logs_or_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("LLMGINE_DATA_DIR", raising=False)
    monkeypatch.chdir(tmp_path)
    assert default_data_dir() == tmp_path / "logs"
    configured = tmp_path / "elsewhere"
    monkeypatch.setenv("LLMGINE_DATA_DIR", str(configured))
    assert default_data_dir() == configured


@pytest.mark.parametrize("from_env", [False, True], ids=["cwd", "env"])
async def test_default_pending_file_is_outside_the_package(
    fresh_bus: MessageBus,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    from_env: bool,
) -> None:
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    if from_env:
        monkeypatch.setenv("LLMGINE_DATA_DIR", str(tmp_path / "configured"))
        expected_dir = tmp_path / "configured"
    else:
        monkeypatch.delenv("LLMGINE_DATA_DIR", raising=False)
        expected_dir = work / "logs"
    fresh_bus.data_dir = None
    fresh_bus.publish_nowait(SchPlain(n=1))
    await fresh_bus.stop()
    path = expected_dir / PENDING_FILENAME
    assert path.is_file()
    assert_outside_package(path)


@pytest.fixture
def saved_umask() -> Iterator[None]:
    original = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(original)


@pytest.mark.parametrize("umask", [0o022, 0o000])
async def test_pending_file_is_private(
    fresh_bus: MessageBus, umask: int, saved_umask: None
) -> None:
    path = pending_file(fresh_bus)
    path.parent.mkdir(parents=True)
    path.write_bytes(b"")
    path.chmod(0o644)  # an older, readable file is replaced by a private one
    os.umask(umask)
    fresh_bus.publish_nowait(SchPlain(n=1))
    await fresh_bus.stop()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(path.read_bytes().splitlines()) == 1
