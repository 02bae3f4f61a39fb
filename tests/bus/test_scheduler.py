import asyncio
import datetime as dt

from llmgine.bus.scheduler import Scheduler
from llmgine.messages import ScheduledEvent


class Tick(ScheduledEvent):
    label: str = ""


def _at(ms: float) -> dt.datetime:
    return dt.datetime.now(dt.UTC) + dt.timedelta(milliseconds=ms)


async def test_earlier_event_pushed_while_armed_rearms_the_timer() -> None:
    loop = asyncio.get_running_loop()
    fired: list[str] = []
    two_fired: asyncio.Future[None] = loop.create_future()

    def on_due(events: list[ScheduledEvent]) -> None:
        fired.extend(e.label for e in events)  # type: ignore[attr-defined]
        if len(fired) >= 2 and not two_fired.done():
            two_fired.set_result(None)

    scheduler = Scheduler(on_due)
    scheduler.push(Tick(label="late", scheduled_time=_at(60_000)))
    scheduler.arm(loop)
    late_timer = scheduler.timer
    assert late_timer is not None
    scheduler.push(Tick(label="soon", scheduled_time=_at(20)))
    assert scheduler.timer is not late_timer and late_timer.cancelled()
    scheduler.push(Tick(label="sooner", scheduled_time=_at(10)))

    await asyncio.wait_for(two_fired, timeout=10)
    assert fired == ["sooner", "soon"]
    assert [e.label for e in scheduler.pending()] == ["late"]  # type: ignore[attr-defined]
    assert scheduler.timer is not None  # armed for "late"
    scheduler.clear()
    assert scheduler.timer is None and len(scheduler) == 0


async def test_events_due_together_come_in_publish_order_and_never_early() -> None:
    loop = asyncio.get_running_loop()
    got: asyncio.Future[list[ScheduledEvent]] = loop.create_future()
    seen: list[tuple[str, dt.datetime]] = []

    def on_due(events: list[ScheduledEvent]) -> None:
        now = dt.datetime.now(dt.UTC)
        seen.extend((e.label, now) for e in events)  # type: ignore[attr-defined]
        if len(seen) == 3 and not got.done():
            got.set_result(events)

    scheduler = Scheduler(on_due)
    when = _at(30)
    for label in ("a", "b", "c"):
        scheduler.push(Tick(label=label, scheduled_time=when))
    scheduler.arm(loop)
    await asyncio.wait_for(got, timeout=10)
    assert [label for label, _ in seen] == ["a", "b", "c"]
    assert all(at >= when for _, at in seen)
    assert scheduler.timer is None  # nothing left: nothing armed


def test_disarm_keeps_events_and_forget_timer_drops_a_dead_loops_handle() -> None:
    scheduler = Scheduler(lambda events: None)
    scheduler.push(Tick(scheduled_time=_at(1000)))
    loop = asyncio.new_event_loop()
    try:
        scheduler.arm(loop)
        assert scheduler.timer is not None
        scheduler.disarm()
        assert scheduler.timer is None and len(scheduler) == 1
        scheduler.arm(loop)
        scheduler.forget_timer()
        assert scheduler.timer is None and len(scheduler) == 1
    finally:
        loop.close()
