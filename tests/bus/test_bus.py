"""MessageBus: commands, events, routing, failures, nesting, order, trace and life cycle."""

import asyncio
import datetime as dt
import logging
import time
from collections.abc import Awaitable
from pathlib import Path
from typing import Any, TypeVar

import pytest

from llmgine.bus.bus import MessageBus
from llmgine.errors import HandlerRegistrationError, NoCommandHandlerError
from llmgine.messages import (
    GLOBAL,
    ROOT,
    Command,
    CommandResult,
    CommandResultEvent,
    CommandStartedEvent,
    Event,
    EventHandlerFailedEvent,
    ScheduledEvent,
)
from llmgine.observability.base import ObservabilityEventHandler

TIMEOUT = 10.0
T = TypeVar("T")


async def within(awaitable: Awaitable[T]) -> T:
    """Await with a generous guard so a deadlock fails the test instead of hanging it."""
    return await asyncio.wait_for(awaitable, TIMEOUT)


class BtEcho(Command):
    text: str = ""


class BtBoom(Command):
    message: str = "boom"


class BtUnhandled(Command):
    pass


class BtDepthCommand(Command):
    depth: int = 0


class BtTraceCommand(Command):
    label: str = ""


class BtPing(Event):
    n: int = 0


class BtBase(Event):
    tag: str = ""


class BtChild(BtBase):
    extra: int = 0


class BtGrandChild(BtChild):
    more: int = 0


class BtUnrelated(Event):
    pass


class BtDepthEvent(Event):
    depth: int = 0


class BtTraceEvent(Event):
    label: str = ""


class BtFanOut(Event):
    n: int = 0


class BtTick(ScheduledEvent):
    label: str = ""


class BtRecordingObserver(ObservabilityEventHandler):
    def __init__(self) -> None:
        super().__init__()
        self.events: list[Event] = []

    def handle(self, event: Event) -> None:
        self.events.append(event)


class BtAsyncRecordingObserver(ObservabilityEventHandler):
    def __init__(self) -> None:
        super().__init__()
        self.events: list[Event] = []

    async def handle(self, event: Event) -> None:
        await asyncio.sleep(0)
        self.events.append(event)


class BtFailingObserver(ObservabilityEventHandler):
    def __init__(self) -> None:
        super().__init__()
        self.calls = 0

    def handle(self, event: Event) -> None:
        self.calls += 1
        raise RuntimeError("observer exploded")


# -- commands -----------------------------------------------------------------


async def test_execute_returns_the_async_handler_result(bus: MessageBus) -> None:
    async def handle(command: BtEcho) -> CommandResult:
        await asyncio.sleep(0)
        return CommandResult(success=True, result=command.text.upper())

    bus.register_command_handler(BtEcho, handle)
    command = BtEcho(text="hello")
    result = await bus.execute(command)
    assert result.success is True
    assert result.result == "HELLO"
    assert result.command_id == command.command_id
    assert result.session_id == ROOT


async def test_execute_returns_the_sync_handler_result(bus: MessageBus) -> None:
    calls: list[str] = []

    def handle(command: BtEcho) -> CommandResult:
        calls.append(command.text)
        return CommandResult(success=True, result=len(command.text), metadata={"k": "v"})

    bus.register_command_handler(BtEcho, handle)
    result = await bus.execute(BtEcho(text="four"))
    assert calls == ["four"]
    assert result.success is True
    assert result.result == 4
    assert result.metadata["k"] == "v"


async def test_sync_handler_returning_a_coroutine_is_awaited(bus: MessageBus) -> None:
    async def work(command: BtEcho) -> CommandResult:
        await asyncio.sleep(0)
        return CommandResult(success=True, result=f"done {command.text}")

    bus.register_command_handler(BtEcho, lambda command: work(command))
    result = await bus.execute(BtEcho(text="x"))
    assert result.success is True
    assert result.result == "done x"


@pytest.mark.parametrize("value", [42, "text", {"a": [1, 2]}, None])
async def test_plain_return_value_is_wrapped_as_result(bus: MessageBus, value: Any) -> None:
    bus.register_command_handler(BtEcho, lambda command: value)
    command = BtEcho()
    result = await bus.execute(command)
    assert isinstance(result, CommandResult)
    assert result.success is True
    assert result.result == value
    assert result.error is None
    assert result.command_id == command.command_id


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
async def test_failing_handler_gives_a_failed_result(bus: MessageBus, is_async: bool) -> None:
    def fail(command: BtBoom) -> None:
        raise ValueError(f"{command.message} in handler")

    async def fail_async(command: BtBoom) -> None:
        await asyncio.sleep(0)
        raise ValueError(f"{command.message} in handler")

    bus.register_command_handler(BtBoom, fail_async if is_async else fail)
    command = BtBoom(message="kaboom")
    result = await bus.execute(command)  # must not raise
    assert result.success is False
    assert result.error is not None
    assert "ValueError" in result.error
    assert "kaboom in handler" in result.error
    details = result.metadata["exception_details"]
    assert details.startswith("Traceback (most recent call last)")
    assert "ValueError: kaboom in handler" in details
    assert "fail" in details  # the handler's frame is part of the traceback
    assert result.command_id == command.command_id
    assert result.session_id == ROOT


async def test_no_handler_raises_naming_the_command_type(bus: MessageBus) -> None:
    bus.register_command_handler(BtEcho, lambda command: None)
    with pytest.raises(NoCommandHandlerError, match="BtUnhandled"):
        await bus.execute(BtUnhandled())


async def test_session_handler_is_preferred_and_root_is_the_fallback(bus: MessageBus) -> None:
    bus.register_command_handler(BtEcho, lambda command: "root")
    bus.register_command_handler(BtEcho, lambda command: "session-a", session_id="sess-a")
    assert (await bus.execute(BtEcho(session_id="sess-a"))).result == "session-a"
    assert (await bus.execute(BtEcho(session_id="sess-b"))).result == "root"
    assert (await bus.execute(BtEcho())).result == "root"


async def test_session_handler_without_root_handler_is_not_used_elsewhere(
    bus: MessageBus,
) -> None:
    bus.register_command_handler(BtEcho, lambda command: "session-a", session_id="sess-a")
    assert (await bus.execute(BtEcho(session_id="sess-a"))).result == "session-a"
    with pytest.raises(NoCommandHandlerError):
        await bus.execute(BtEcho(session_id="sess-b"))
    with pytest.raises(NoCommandHandlerError):
        await bus.execute(BtEcho())


async def test_second_registration_in_the_same_session_raises(bus: MessageBus) -> None:
    bus.register_command_handler(BtEcho, lambda command: "first")
    with pytest.raises(HandlerRegistrationError, match="BtEcho"):
        bus.register_command_handler(BtEcho, lambda command: "second")
    with pytest.raises(ValueError):
        bus.register_command_handler(BtEcho, lambda command: "third")
    # The first handler stays; another session may still register its own.
    bus.register_command_handler(BtEcho, lambda command: "other", session_id="sess-x")
    assert (await bus.execute(BtEcho())).result == "first"
    assert (await bus.execute(BtEcho(session_id="sess-x"))).result == "other"


async def test_unregister_command_handler(bus: MessageBus) -> None:
    bus.register_command_handler(BtEcho, lambda command: "root")
    bus.register_command_handler(BtEcho, lambda command: "session", session_id="sess-u")
    assert bus.unregister_command_handler(BtEcho, session_id="sess-u") is True
    assert bus.unregister_command_handler(BtEcho, session_id="sess-u") is False
    assert (await bus.execute(BtEcho(session_id="sess-u"))).result == "root"
    assert bus.unregister_command_handler(BtEcho) is True
    with pytest.raises(NoCommandHandlerError):
        await bus.execute(BtEcho())
    # Registering again after unregistering is allowed.
    bus.register_command_handler(BtEcho, lambda command: "again")
    assert (await bus.execute(BtEcho())).result == "again"


async def test_unregister_event_handlers(bus: MessageBus) -> None:
    seen: list[str] = []

    def first(event: BtPing) -> None:
        seen.append("first")

    def second(event: BtPing) -> None:
        seen.append("second")

    bus.register_event_handler(BtPing, first)
    bus.register_event_handler(BtPing, second)
    assert bus.unregister_event_handler(BtPing, first) == 1
    assert bus.unregister_event_handler(BtPing, first) == 0
    await bus.publish(BtPing())
    assert seen == ["second"]
    bus.register_event_handler(BtPing, first)
    assert bus.unregister_event_handlers(BtPing) == 2
    await bus.publish(BtPing())
    assert seen == ["second"]
    assert not bus.has_handlers(BtPing)


async def test_command_started_and_result_events_are_published(bus: MessageBus) -> None:
    order: list[str] = []
    started: list[CommandStartedEvent] = []
    results: list[CommandResultEvent] = []

    def on_started(event: CommandStartedEvent) -> None:
        order.append("started")
        started.append(event)

    async def on_result(event: CommandResultEvent) -> None:
        order.append("result")
        results.append(event)

    def handle(command: BtEcho) -> CommandResult:
        order.append("handler")
        return CommandResult(success=True, result=command.text)

    bus.register_event_handler(CommandStartedEvent, on_started)
    bus.register_event_handler(CommandResultEvent, on_result)
    bus.register_command_handler(BtEcho, handle)
    command = BtEcho(text="payload")
    result = await bus.execute(command)
    assert order == ["started", "handler", "result"]
    assert started[0].command is command
    assert started[0].session_id == ROOT
    assert results[0].command_result is result
    assert results[0].command_result.result == "payload"
    assert results[0].session_id == ROOT


async def test_command_events_for_a_failing_handler_and_in_a_session(bus: MessageBus) -> None:
    started: list[CommandStartedEvent] = []
    results: list[CommandResultEvent] = []
    root_seen: list[Event] = []
    bus.register_event_handler(CommandStartedEvent, started.append, session_id="sess-c")
    bus.register_event_handler(CommandResultEvent, results.append, session_id="sess-c")
    bus.register_event_handler(CommandResultEvent, root_seen.append)

    def fail(command: BtBoom) -> None:
        raise KeyError("missing")

    bus.register_command_handler(BtBoom, fail, session_id="sess-c")
    command = BtBoom(session_id="sess-c")
    result = await bus.execute(command)
    assert result.success is False
    assert len(started) == 1 and started[0].command is command
    assert started[0].session_id == "sess-c"
    assert len(results) == 1
    assert results[0].command_result is result
    assert results[0].command_result.success is False
    assert "KeyError" in (results[0].command_result.error or "")
    assert results[0].session_id == "sess-c"
    assert root_seen == []  # a ROOT handler does not see another session's events


# -- events -------------------------------------------------------------------


async def test_publish_awaits_sync_and_async_handlers(bus: MessageBus) -> None:
    seen: list[str] = []

    async def slow_async(event: BtPing) -> None:
        for _ in range(5):
            await asyncio.sleep(0)
        seen.append(f"async {event.n}")

    def plain(event: BtPing) -> None:
        seen.append(f"sync {event.n}")

    bus.register_event_handler(BtPing, slow_async)
    bus.register_event_handler(BtPing, plain)
    await bus.publish(BtPing(n=1))
    assert seen == ["async 1", "sync 1"]  # both ran, in registration order


async def test_handler_for_a_base_class_receives_subclasses(bus: MessageBus) -> None:
    base_seen: list[Event] = []
    child_seen: list[Event] = []
    bus.register_event_handler(BtBase, base_seen.append)
    bus.register_event_handler(BtChild, child_seen.append)
    base, child, grandchild = BtBase(), BtChild(), BtGrandChild()
    for event in (base, child, grandchild, BtUnrelated()):
        await bus.publish(event)
    assert base_seen == [base, child, grandchild]
    assert child_seen == [child, grandchild]


async def test_any_event_handler_sees_every_event_type(bus: MessageBus) -> None:
    seen: list[Event] = []
    bus.register_event_handler(Event, seen.append)
    events = [BtPing(), BtUnrelated(), BtChild()]
    for event in events:
        await bus.publish(event)
    assert seen == events


async def test_routing_between_sessions_global_and_root(bus: MessageBus) -> None:
    seen: dict[str, list[str]] = {"a": [], "b": [], "global": [], "root": []}
    bus.register_event_handler(BtPing, lambda e: seen["a"].append(e.session_id), "sess-a")
    bus.register_event_handler(BtPing, lambda e: seen["b"].append(e.session_id), "sess-b")
    bus.register_event_handler(BtPing, lambda e: seen["global"].append(e.session_id), GLOBAL)
    bus.register_event_handler(BtPing, lambda e: seen["root"].append(e.session_id))
    for session_id in ("sess-a", "sess-b", ROOT, "sess-a"):
        await bus.publish(BtPing(session_id=session_id))
    assert seen["a"] == ["sess-a", "sess-a"]
    assert seen["b"] == ["sess-b"]
    assert seen["global"] == ["sess-a", "sess-b", ROOT, "sess-a"]
    assert seen["root"] == [ROOT]


async def test_failing_handler_is_isolated_and_reported(bus: MessageBus) -> None:
    seen: list[str] = []
    failures: list[EventHandlerFailedEvent] = []
    error = RuntimeError("handler blew up")

    def before(event: BtPing) -> None:
        seen.append("before")

    async def bad_handler(event: BtPing) -> None:
        raise error

    def after(event: BtPing) -> None:
        seen.append("after")

    bus.register_event_handler(BtPing, before)
    bus.register_event_handler(BtPing, bad_handler)
    bus.register_event_handler(BtPing, after)
    bus.register_event_handler(EventHandlerFailedEvent, failures.append)
    event = BtPing(n=3)
    await bus.publish(event)  # does not raise
    assert seen == ["before", "after"]
    assert len(failures) == 1
    failure = failures[0]
    assert failure.handler is not None and failure.handler.endswith("bad_handler")
    assert failure.exception is error
    assert failure.event is event
    assert failure.session_id == event.session_id
    assert bus.event_handler_errors == [error]
    # The bus keeps working afterwards.
    await bus.publish(BtPing(n=4))
    assert seen == ["before", "after", "before", "after"]
    assert len(bus.event_handler_errors) == 2


async def test_failing_failure_handler_does_not_loop(bus: MessageBus) -> None:
    calls: list[str] = []

    def bad_handler(event: BtPing) -> None:
        raise ValueError("first")

    def bad_failure_handler(event: EventHandlerFailedEvent) -> None:
        calls.append(event.handler or "")
        raise ValueError("second")

    bus.register_event_handler(BtPing, bad_handler)
    bus.register_event_handler(EventHandlerFailedEvent, bad_failure_handler)
    await within(bus.publish(BtPing()))
    assert len(calls) == 1
    assert [str(e) for e in bus.event_handler_errors] == ["first", "second"]


async def test_unsuppressed_errors_raise_after_other_handlers_ran(bus: MessageBus) -> None:
    seen: list[str] = []
    failures: list[EventHandlerFailedEvent] = []

    def bad_handler(event: BtPing) -> None:
        raise LookupError("not found here")

    bus.register_event_handler(BtPing, bad_handler)
    bus.register_event_handler(BtPing, lambda e: seen.append("after"))
    bus.register_event_handler(EventHandlerFailedEvent, failures.append)
    bus.unsuppress_event_errors()
    with pytest.raises(LookupError, match="not found here"):
        await bus.publish(BtPing())
    assert seen == ["after"]
    assert len(failures) == 1
    bus.suppress_event_errors()
    await bus.publish(BtPing())
    assert seen == ["after", "after"]


async def test_unsuppressed_errors_of_queued_events_raise_from_wait_for_events(
    bus: MessageBus,
) -> None:
    def bad_handler(event: BtPing) -> None:
        raise LookupError(f"queued {event.n}")

    bus.register_event_handler(BtPing, bad_handler)
    bus.unsuppress_event_errors()
    await bus.publish(BtPing(n=1), await_processing=False)
    with pytest.raises(LookupError, match="queued 1"):
        await within(bus.wait_for_events())
    await within(bus.wait_for_events())  # the error is reported once


@pytest.mark.parametrize("started", [True, False], ids=["started", "not-started"])
async def test_nested_publish_and_execute_do_not_deadlock(
    fresh_bus: MessageBus, started: bool
) -> None:
    bus = fresh_bus
    if started:
        await bus.start()
    max_depth = 8
    trail: list[str] = []

    async def on_command(command: BtDepthCommand) -> int:
        trail.append(f"command {command.depth}")
        await bus.publish(BtDepthEvent(depth=command.depth))
        return command.depth

    async def on_event(event: BtDepthEvent) -> None:
        trail.append(f"event {event.depth}")
        if event.depth < max_depth:
            result = await bus.execute(BtDepthCommand(depth=event.depth + 1))
            assert result.result == event.depth + 1
        await bus.wait_for_events()  # also harmless from inside a handler

    bus.register_command_handler(BtDepthCommand, on_command)
    bus.register_event_handler(BtDepthEvent, on_event)
    result = await within(bus.execute(BtDepthCommand(depth=0)))
    assert result.success is True and result.result == 0
    expected = [f"{kind} {d}" for d in range(max_depth + 1) for kind in ("command", "event")]
    assert trail == expected


async def test_nested_publish_from_queued_delivery_does_not_deadlock(bus: MessageBus) -> None:
    """Handlers run by the consumer task publish and execute, also in child tasks."""
    seen: list[int] = []

    async def on_command(command: BtDepthCommand) -> None:
        await bus.publish(BtDepthEvent(depth=command.depth))

    async def on_event(event: BtDepthEvent) -> None:
        seen.append(event.depth)
        if event.depth < 6:
            # More queued work waits while this handler nests.
            bus.publish_nowait(BtFanOut(n=event.depth))
            await bus.execute(BtDepthCommand(depth=event.depth + 1))

    async def on_fan_out(event: BtFanOut) -> None:
        seen.append(100 + event.n)
        if event.n == 0:
            # Publishing from tasks the handler awaits must not wait behind the queue.
            await asyncio.gather(
                bus.publish(BtPing(n=1)), bus.publish(BtPing(n=2)), bus.wait_for_events()
            )

    pings: list[int] = []
    bus.register_command_handler(BtDepthCommand, on_command)
    bus.register_event_handler(BtDepthEvent, on_event)
    bus.register_event_handler(BtFanOut, on_fan_out)
    bus.register_event_handler(BtPing, lambda e: pings.append(e.n))
    await bus.publish(BtDepthEvent(depth=0), await_processing=False)
    await within(bus.wait_for_events())
    assert seen == [0, 1, 2, 3, 4, 5, 6, 100, 101, 102, 103, 104, 105]
    assert sorted(pings) == [1, 2]


@pytest.mark.parametrize("started", [True, False], ids=["started", "not-started"])
async def test_events_from_one_task_arrive_in_publish_order(
    fresh_bus: MessageBus, started: bool
) -> None:
    bus = fresh_bus
    if started:
        await bus.start()
    seen: list[int] = []

    async def slow(event: BtPing) -> None:
        for _ in range(event.n % 3):
            await asyncio.sleep(0)

    bus.register_event_handler(BtPing, slow)
    bus.register_event_handler(BtPing, lambda e: seen.append(e.n))
    awaited = {3, 4, 8, 12, 13, 14, 19}
    for n in range(20):
        await within(bus.publish(BtPing(n=n), await_processing=n in awaited))
        if n in awaited:
            # An awaited publish returns only after it and everything before it ran.
            assert seen == list(range(n + 1))
    await within(bus.wait_for_events())
    assert seen == list(range(20))


async def test_awaited_publish_waits_for_a_queued_event_in_delivery(bus: MessageBus) -> None:
    loop = asyncio.get_running_loop()
    started, release = loop.create_future(), loop.create_future()
    seen: list[int] = []

    async def gate(event: BtPing) -> None:
        if event.n == 1:
            started.set_result(None)
            await release

    bus.register_event_handler(BtPing, gate)
    bus.register_event_handler(BtPing, lambda e: seen.append(e.n))
    await bus.publish(BtPing(n=1), await_processing=False)
    await within(started)  # the consumer is now inside the delivery of event 1
    second = asyncio.create_task(bus.publish(BtPing(n=2)))
    drained = asyncio.create_task(bus.wait_for_events())
    await asyncio.sleep(0.05)  # only shows that nothing overtakes event 1
    assert seen == []
    assert not second.done() and not drained.done()
    release.set_result(None)
    await within(second)
    await within(drained)
    assert seen == [1, 2]


@pytest.mark.parametrize("started", [True, False], ids=["started", "not-started"])
async def test_wait_for_events_drains_the_queue(fresh_bus: MessageBus, started: bool) -> None:
    bus = fresh_bus
    if started:
        await bus.start()
    assert bus.is_running is started
    seen: list[int] = []

    async def record(event: BtPing) -> None:
        await asyncio.sleep(0)
        seen.append(event.n)
        if event.n < 3:  # events queued by queued events are drained too
            bus.publish_nowait(BtPing(n=event.n + 10))

    bus.register_event_handler(BtPing, record)
    for n in range(3):
        await bus.publish(BtPing(n=n), await_processing=False)
    bus.publish_nowait(BtPing(n=3))
    assert seen == []  # nothing was delivered yet: publishing only queued
    await within(bus.wait_for_events())
    assert seen == [0, 1, 2, 3, 10, 11, 12]
    await within(bus.ensure_events_processed())  # alias; nothing left
    assert seen == [0, 1, 2, 3, 10, 11, 12]


async def test_publish_and_execute_work_before_start(fresh_bus: MessageBus) -> None:
    assert not fresh_bus.is_running
    seen: list[int] = []
    fresh_bus.register_event_handler(BtPing, lambda e: seen.append(e.n))
    fresh_bus.register_command_handler(BtEcho, lambda c: c.text * 2)
    await within(fresh_bus.publish(BtPing(n=5)))
    assert seen == [5]
    result = await within(fresh_bus.execute(BtEcho(text="ab")))
    assert result.success and result.result == "abab"
    assert not fresh_bus.is_running


async def test_start_and_stop_are_idempotent(fresh_bus: MessageBus) -> None:
    await fresh_bus.start()
    consumer = fresh_bus._consumer
    await fresh_bus.start()
    assert fresh_bus._consumer is consumer
    assert fresh_bus.is_running
    await within(fresh_bus.stop())
    await within(fresh_bus.stop())
    assert not fresh_bus.is_running
    assert consumer is not None and consumer.done()


async def test_stop_from_inside_a_queued_delivery_ends_the_consumer(bus: MessageBus) -> None:
    consumer = bus._consumer
    assert consumer is not None
    stopped: list[bool] = []

    async def stop_the_bus(event: BtPing) -> None:
        await bus.stop()
        stopped.append(bus.is_running)

    bus.register_event_handler(BtPing, stop_the_bus)
    bus.publish_nowait(BtPing())
    await within(consumer)  # the consumer task ends instead of lingering
    assert stopped == [False]
    await bus.start()  # a restart has exactly one consumer again
    assert bus._consumer is not consumer and not bus._consumer.done()  # type: ignore[union-attr]
    seen: list[int] = []
    bus.unregister_event_handlers(BtPing)
    bus.register_event_handler(BtPing, lambda e: seen.append(e.n))
    bus.publish_nowait(BtPing(n=2))
    await within(bus.wait_for_events())
    assert seen == [2]


# -- trace fields ---------------------------------------------------------------


async def test_trace_and_parent_ids_follow_the_causal_chain(bus: MessageBus) -> None:
    captured: dict[str, Any] = {}

    async def on_command(command: BtTraceCommand) -> None:
        if command.label == "top":
            event = BtTraceEvent(label="level1")
            captured["level1"] = event
            await bus.publish(event)
        else:
            event = BtTraceEvent(label="level4")
            captured["level4"] = event
            await bus.publish(event)

    async def on_event(event: BtTraceEvent) -> None:
        if event.label == "level1":
            deeper = BtTraceEvent(label="level2")
            captured["level2"] = deeper
            await bus.publish(deeper)
        elif event.label == "level2":
            command = BtTraceCommand(label="level3")
            captured["level3"] = command
            await bus.execute(command)

    started: list[CommandStartedEvent] = []
    bus.register_event_handler(CommandStartedEvent, started.append)
    bus.register_command_handler(BtTraceCommand, on_command)
    bus.register_event_handler(BtTraceEvent, on_event)
    top = BtTraceCommand(label="top")
    assert top.trace_id == top.command_id
    assert top.parent_id is None
    await within(bus.execute(top))

    level1, level2 = captured["level1"], captured["level2"]
    level3, level4 = captured["level3"], captured["level4"]
    assert level1.parent_id == top.command_id
    assert level2.parent_id == level1.event_id
    assert level3.parent_id == level2.event_id
    assert level4.parent_id == level3.command_id
    for message in (level1, level2, level3, level4):
        assert message.trace_id == top.command_id
    assert started[0].command is top
    assert started[0].parent_id == top.command_id
    assert started[0].trace_id == top.command_id

    # Outside any handler, a new message starts its own trace again.
    after = BtPing()
    assert after.parent_id is None
    assert after.trace_id == after.event_id


async def test_top_level_event_starts_a_trace(bus: MessageBus) -> None:
    children: list[BtPing] = []

    async def on_base(event: BtBase) -> None:
        child = BtPing(n=1)
        children.append(child)
        await bus.publish(child)

    bus.register_event_handler(BtBase, on_base)
    top = BtBase()
    assert top.trace_id == top.event_id and top.parent_id is None
    await bus.publish(top)
    assert children[0].parent_id == top.event_id
    assert children[0].trace_id == top.event_id


# -- life cycle -----------------------------------------------------------------


async def test_message_bus_is_a_singleton(bus: MessageBus) -> None:
    assert MessageBus() is bus
    assert MessageBus() is MessageBus()
    bus.register_event_handler(BtPing, lambda e: None)
    assert MessageBus().has_handlers(BtPing)  # creating it again keeps its state


def test_several_asyncio_runs_in_a_row(tmp_path: Path) -> None:
    bus = MessageBus()
    seen: list[str] = []
    ticks: list[BtTick] = []
    holder: dict[str, asyncio.Future[None]] = {}

    def on_ping(event: BtPing) -> None:
        seen.append(f"ping {event.n}")

    def on_tick(event: BtTick) -> None:
        ticks.append(event)
        future = holder.get("tick")
        if future is not None and not future.done():
            future.set_result(None)

    async def first_run() -> None:
        await bus.reset()
        bus.data_dir = tmp_path / "bus-data"
        bus.register_event_handler(BtPing, on_ping)
        bus.register_event_handler(BtTick, on_tick)
        bus.register_command_handler(BtEcho, lambda c: c.text.upper())
        await bus.start()
        assert bus.is_running
        await bus.publish(BtPing(n=1))
        bus.publish_nowait(BtPing(n=2))
        # Due during the second run: its timer dies with this loop.
        when = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=0.3)
        await bus.publish(BtTick(label="cross-run", scheduled_time=when))
        # Left running on purpose: asyncio.run() closes the loop under it.

    async def second_run() -> None:
        holder["tick"] = asyncio.get_running_loop().create_future()
        assert not bus.is_running  # a bus of a closed loop does not count as running
        await bus.start()
        assert bus.is_running
        await bus.publish(BtPing(n=3))
        result = await bus.execute(BtEcho(text="again"))
        assert result.result == "AGAIN"
        await holder["tick"]  # the scheduled event survived the old loop
        await bus.wait_for_events()
        await bus.stop()
        assert not bus.is_running

    async def third_run() -> None:
        await bus.publish(BtPing(n=4))
        await bus.start()
        bus.publish_nowait(BtPing(n=5))
        await bus.wait_for_events()
        await bus.stop()

    try:
        asyncio.run(asyncio.wait_for(first_run(), TIMEOUT))
        asyncio.run(asyncio.wait_for(second_run(), TIMEOUT))
        asyncio.run(asyncio.wait_for(third_run(), TIMEOUT))
        # Every event delivered exactly once, in order, whichever run delivered event 2.
        assert seen == ["ping 1", "ping 2", "ping 3", "ping 4", "ping 5"]
        assert [tick.label for tick in ticks] == ["cross-run"]
        assert time.time() >= ticks[0].scheduled_time.timestamp()
        assert not (tmp_path / "bus-data" / "pending_events.jsonl").exists()
    finally:
        asyncio.run(bus.reset())


async def test_idle_started_bus_arms_no_timer_and_does_not_poll(bus: MessageBus) -> None:
    loop = asyncio.get_running_loop()
    done = loop.create_future()
    bus.register_event_handler(BtPing, lambda e: done.set_result(e.n))
    await bus.publish(BtPing(n=1), await_processing=False)
    assert await within(done) == 1
    await within(bus.wait_for_events())

    consumer = bus._consumer
    assert consumer is not None and not consumer.done()
    assert bus._scheduler.timer is None
    waiter = bus._waiter
    assert waiter is not None and not waiter.done()  # parked on a future, not a timeout
    await asyncio.sleep(0.05)  # only shows that the consumer does not wake up by itself
    assert bus._waiter is waiter and not waiter.done()
    assert bus._scheduler.timer is None
    live_timers = [h for h in getattr(loop, "_scheduled", []) if not h.cancelled()]
    assert live_timers == []


async def test_timer_is_armed_only_while_something_is_scheduled(bus: MessageBus) -> None:
    loop = asyncio.get_running_loop()
    fired: list[str] = []
    all_fired = loop.create_future()

    def on_tick(event: BtTick) -> None:
        fired.append(event.label)
        if len(fired) == 2:
            all_fired.set_result(None)

    bus.register_event_handler(BtTick, on_tick)
    now = dt.datetime.now(dt.UTC)
    await bus.publish(BtTick(label="soon", scheduled_time=now + dt.timedelta(seconds=0.1)))
    assert bus._scheduler.timer is not None
    await bus.publish(BtTick(label="due", scheduled_time=now))
    await within(all_fired)
    assert fired == ["due", "soon"]
    assert bus._scheduler.timer is None
    assert bus.pending_scheduled == []
    consumer = bus._consumer
    assert consumer is not None and not consumer.done()

    # One timer, set for the earliest event: nothing wakes up in between.
    await bus.publish(BtTick(label="later", scheduled_time=now + dt.timedelta(hours=1)))
    assert bus._scheduler.timer is not None
    assert bus._scheduler.timer.when() - loop.time() > 3500


# -- observability ----------------------------------------------------------------


async def test_observer_sees_events_nobody_else_listens_to(bus: MessageBus) -> None:
    observer = BtRecordingObserver()
    async_observer = BtAsyncRecordingObserver()
    assert not bus.has_handlers(BtUnrelated)
    bus.register_observability_handler(observer)
    bus.register_observability_handler(async_observer)
    bus.register_observability_handler(observer)  # registering twice is a no-op
    assert bus.observability_handlers == [observer, async_observer]
    assert bus.has_handlers(BtUnrelated)
    event = BtUnrelated()
    await bus.publish(event)
    assert observer.events == [event]
    assert async_observer.events == [event]

    # Command life-cycle events are built for observers even without handlers.
    bus.register_command_handler(BtEcho, lambda c: "ok")
    command = BtEcho()
    await bus.execute(command)
    kinds = [type(e) for e in observer.events[1:]]
    assert kinds == [CommandStartedEvent, CommandResultEvent]
    assert observer.events[1].command is command

    bus.unregister_observability_handler(observer)
    await bus.publish(BtUnrelated())
    assert len(observer.events) == 3
    assert len(async_observer.events) == 4


@pytest.mark.parametrize("unsuppressed", [False, True], ids=["suppressed", "unsuppressed"])
async def test_failing_observer_does_not_break_publish(bus: MessageBus, unsuppressed: bool) -> None:
    failing = BtFailingObserver()
    recording = BtRecordingObserver()
    bus.register_observability_handler(failing)
    bus.register_observability_handler(recording)
    seen: list[int] = []
    bus.register_event_handler(BtPing, lambda e: seen.append(e.n))
    if unsuppressed:
        bus.unsuppress_event_errors()
    await bus.publish(BtPing(n=9))  # does not raise
    assert seen == [9]
    assert failing.calls == 1
    assert [type(e) for e in recording.events] == [BtPing]
    assert [str(e) for e in bus.event_handler_errors] == ["observer exploded"]
    bus.register_command_handler(BtEcho, lambda c: "fine")
    assert (await bus.execute(BtEcho())).result == "fine"


class LeakyCommand(Command):
    pass


class LeakyEvent(Event):
    pass


async def test_failure_warnings_do_not_leak_secrets(
    bus: MessageBus, caplog: pytest.LogCaptureFixture
) -> None:
    secret = "sk-" + "A1b2C3d4" * 4

    def explode(message: object) -> None:
        raise RuntimeError(f"provider rejected key {secret}")

    bus.register_command_handler(LeakyCommand, explode)
    bus.register_event_handler(LeakyEvent, explode)
    with caplog.at_level(logging.WARNING, logger="llmgine"):
        result = await bus.execute(LeakyCommand())
        await bus.publish(LeakyEvent())
    assert not result.success
    assert "RuntimeError" in caplog.text and "***" in caplog.text
    assert secret not in caplog.text
