"""The message bus: commands to one handler, events to many, sessions, scheduling.

Delivery model
--------------
``await bus.publish(event)`` runs the event's handlers in the caller's task,
one after another in registration order, and returns when all have run. This
needs no started bus, never deadlocks when a handler publishes or executes in
turn, and keeps the events of one task in publish order. If events queued
with ``await_processing=False`` are still waiting (or being delivered), an
awaited publish waits behind them, so order holds across both ways of publishing.

``attach(transport)`` bridges the bus to other processes (see
:mod:`llmgine.bus.transport`); with nothing attached none of it runs.

``start()`` adds what needs a running loop: a consumer task for queued events
and one timer (``loop.call_at``) for the earliest scheduled event. Nothing
wakes up while the bus is idle. ``stop()`` saves what has not been delivered
(see :mod:`llmgine.bus.persistence`).
"""

from __future__ import annotations

import asyncio
import logging
import traceback
from collections import deque
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from pathlib import Path
from typing import Any

from llmgine.bus.interface import set_default_bus
from llmgine.bus.persistence import default_data_dir, load_pending, save_pending
from llmgine.bus.registry import Handler, HandlerRegistry, handler_name, is_async_callable
from llmgine.bus.scheduler import Scheduler
from llmgine.bus.session import BusSession
from llmgine.bus.transport import Transport
from llmgine.errors import BusError, ConfigurationError, NoCommandHandlerError
from llmgine.messages.base import ROOT
from llmgine.messages.commands import Command, CommandResult
from llmgine.messages.events import (
    CommandResultEvent,
    CommandStartedEvent,
    Event,
    EventHandlerFailedEvent,
    ScheduledEvent,
)
from llmgine.messages.trace import current_message
from llmgine.observability.base import ObservabilityEventHandler
from llmgine.observability.redaction import default_redactor

__all__ = ["MessageBus"]

logger = logging.getLogger("llmgine.bus")

# Queue entries are (event, waiter); a barrier entry only resolves its waiter.
_BARRIER: Any = object()


async def _done() -> None:
    """An awaitable that does nothing (``publish`` of a scheduled event)."""


# The delivery the consumer task is running, as seen from the handlers it runs
# (and the tasks they create). Publishing from such a delivery is nested: it is
# delivered at once; queueing it behind the consumer would deadlock.
_consumer_delivery: ContextVar[object | None] = ContextVar(
    "llmgine_bus_consumer_delivery", default=None
)


class MessageBus:
    """Async command and event bus (a process-wide singleton).

    ``MessageBus()`` always returns the same instance. Use :meth:`reset` in
    tests for a fresh state (the ``bus`` pytest fixture does it for you).
    """

    _instance: MessageBus | None = None
    _initialized: bool = False

    def __new__(cls) -> MessageBus:
        """Return the one instance, creating it on first use."""
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __init__(self) -> None:
        if not self._initialized:
            self._set_up()

    def _set_up(self) -> None:
        """Every attribute of a fresh bus (also what :meth:`reset` returns to)."""
        self._initialized = True
        self._registry = HandlerRegistry()
        self._handler_cache = self._registry.event_cache  # read directly on the hot path
        self._observers: list[tuple[ObservabilityEventHandler, bool]] = []
        self._queue: deque[tuple[Any, asyncio.Future[None] | None]] = deque()
        self._scheduler = Scheduler(self._enqueue_due)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._consumer: asyncio.Task[None] | None = None
        self._waiter: asyncio.Future[None] | None = None
        self._delivery: object | None = None  # set while the consumer delivers an event
        self._running = False
        self._stopping = False
        self._suppress_event_errors = True
        self._queued_errors: list[BaseException] = []
        self.event_handler_errors: list[Exception] = []
        self.data_dir: Path | None = None
        self.stop_timeout = 5.0
        self._transport: Transport | None = None

    # -- state --------------------------------------------------------------

    @property
    def is_running(self) -> bool:
        """True between ``start()`` and ``stop()`` on the current event loop."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return False
        return self._running and loop is self._loop

    @property
    def pending_scheduled(self) -> list[ScheduledEvent]:
        """Scheduled events that have not fired yet, earliest first."""
        return self._scheduler.pending()

    def _data_dir(self) -> Path:
        return Path(self.data_dir) if self.data_dir is not None else default_data_dir()

    def _ensure_loop(self) -> asyncio.AbstractEventLoop:
        # A bus left running by an earlier asyncio.run() holds a dead task and
        # timer of a closed loop: forget them, keep handlers and pending events.
        loop = asyncio.get_running_loop()
        if loop is not self._loop:
            if self._loop is not None:
                self._consumer = None
                self._waiter = None
                self._delivery = None
                self._scheduler.forget_timer()
                self._running = False
                self._stopping = False
                self._queue = deque(
                    (event, None) for event, _ in self._queue if event is not _BARRIER
                )
            self._loop = loop
        return loop

    async def start(self) -> None:
        """Start queued and scheduled delivery; load events saved by the last ``stop()``."""
        loop = self._ensure_loop()
        if self._running:
            return
        self._running = True
        self._stopping = False
        for event in load_pending(self._data_dir()):
            if isinstance(event, ScheduledEvent):
                self._scheduler.push(event)
            else:
                self._queue.append((event, None))
        self._consumer = loop.create_task(self._consume(), name="llmgine-bus-consumer")
        self._scheduler.arm(loop)
        logger.debug("MessageBus started")

    async def stop(self, *, persist: bool = True) -> None:
        """Stop delivery; save undelivered scheduled and queued events; flush observers.

        Args:
            persist: Save undelivered events to the data directory (``reset()``
                passes False to drop them).

        Raises:
            ConfigurationError: the events could not be saved (the data
                directory is not a writable directory). Every observer is
                flushed first, and the events stay in memory, queued and
                scheduled as they were: a later ``start()`` delivers them, a
                later ``stop()`` tries to save them again.
        """
        self._ensure_loop()
        if self._transport is not None:
            await self.detach()
        self._stopping = True
        self._scheduler.disarm()
        consumer, self._consumer = self._consumer, None
        if consumer is not None and consumer is not asyncio.current_task():
            self._wake()
            done, _ = await asyncio.wait({consumer}, timeout=self.stop_timeout)
            if not done:
                logger.warning(
                    "A bus handler was still running %.1fs after stop(); cancelling it",
                    self.stop_timeout,
                )
                consumer.cancel()
                await asyncio.gather(consumer, return_exceptions=True)
        self._running = False
        undelivered: list[Event] = []
        for event, waiter in self._queue:
            if waiter is not None and not waiter.done():
                waiter.set_result(None)
            if event is not _BARRIER:
                undelivered.append(event)
        undelivered.extend(self.pending_scheduled)
        unsaved: ConfigurationError | None = None
        if persist and undelivered:
            unsaved = self._save_undelivered(undelivered)
        if unsaved is None:
            self._queue.clear()
            self._scheduler.clear()
        else:  # kept: the waiters are answered, the events stay
            self._queue = deque((event, None) for event, _ in self._queue if event is not _BARRIER)
        for observer, _ in self._observers:
            try:
                observer.flush()
            except Exception as exc:
                logger.warning("Observability handler %r failed to flush: %s", observer, exc)
        self._stopping = False
        logger.debug("MessageBus stopped")
        if unsaved is not None:
            raise unsaved from unsaved.__cause__

    def _save_undelivered(self, undelivered: list[Event]) -> ConfigurationError | None:
        """Save ``undelivered``; the error to raise (after flushing) when that fails."""
        data_dir = self._data_dir()
        try:
            path = save_pending(data_dir, undelivered)
        except Exception as exc:
            count = len(undelivered)
            error = ConfigurationError(
                f"could not save {count} undelivered bus event{'s' if count != 1 else ''} "
                f"to the data directory {data_dir} ({type(exc).__name__}: {exc}). They are "
                "kept in memory: the next start() delivers them, the next stop() saves them "
                "again. Point bus.data_dir (or LLMGINE_DATA_DIR) at a writable directory."
            )
            error.__cause__ = exc
            logger.warning("%s", error)
            return error
        logger.info("Saved %d undelivered bus events to %s", len(undelivered), path)
        return None

    async def reset(self) -> None:
        """Stop without saving and return to a fresh state (handlers, errors, settings)."""
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            pass
        else:
            await self.stop(persist=False)
        self._set_up()

    def suppress_event_errors(self) -> None:
        """Record event handler errors instead of raising them (the default)."""
        self._suppress_event_errors = True

    def unsuppress_event_errors(self) -> None:
        """Make ``publish`` raise the first error of a failing event handler."""
        self._suppress_event_errors = False

    # -- registration -------------------------------------------------------

    def create_session(self, id: str | None = None) -> BusSession:  # noqa: A002 - seed API
        """Create a :class:`BusSession`; use it as ``async with`` (or plain ``with``)."""
        return BusSession(id=id, bus=self)

    def register_command_handler(
        self,
        command_type: type[Command],
        handler: Callable[..., Any],
        session_id: str = ROOT,
    ) -> None:
        """Register the handler of ``command_type`` in a session (sync or async).

        Raises:
            HandlerRegistrationError: the type already has a handler in that session.
        """
        self._registry.add_command(command_type, handler, session_id)
        if self._transport is not None:
            self._transport.handlers_changed()

    def register_event_handler(
        self,
        event_type: type[Event],
        handler: Callable[..., Any],
        session_id: str = ROOT,
    ) -> None:
        """Add a handler for ``event_type`` and its subclasses (sync or async).

        ``session_id="GLOBAL"`` handlers see the events of every session.
        """
        self._registry.add_event(event_type, handler, session_id)

    def unregister_command_handler(
        self, command_type: type[Command], session_id: str = ROOT
    ) -> bool:
        """Remove a command handler; return whether one was registered."""
        removed = self._registry.remove_command(command_type, session_id)
        if removed and self._transport is not None:
            self._transport.handlers_changed()
        return removed

    def unregister_event_handler(
        self,
        event_type: type[Event],
        handler: Callable[..., Any] | None = None,
        session_id: str = ROOT,
    ) -> int:
        """Remove ``handler`` (every handler of the type if None); return how many."""
        return self._registry.remove_event(event_type, handler, session_id)

    def unregister_event_handlers(self, event_type: type[Event], session_id: str = ROOT) -> int:
        """Remove every handler of ``event_type`` in a session; return how many."""
        return self._registry.remove_event(event_type, None, session_id)

    def unregister_session_handlers(self, session_id: str) -> int:
        """Remove every command and event handler of a session; return how many."""
        had_commands = session_id in self._registry.commands
        count = self._registry.remove_session(session_id)
        if had_commands and self._transport is not None:
            self._transport.handlers_changed()
        return count

    def register_observability_handler(self, handler: ObservabilityEventHandler) -> None:
        """Send every event (bus events included) through ``handler`` first."""
        if any(existing is handler for existing, _ in self._observers):
            return
        self._observers.append((handler, is_async_callable(handler.handle)))

    def unregister_observability_handler(self, handler: ObservabilityEventHandler) -> None:
        """Stop sending events to ``handler``."""
        self._observers = [(h, a) for h, a in self._observers if h is not handler]

    @property
    def observability_handlers(self) -> list[ObservabilityEventHandler]:
        """The registered observability handlers, in order."""
        return [handler for handler, _ in self._observers]

    def has_handlers(self, event_type: type[Event], session_id: str = ROOT) -> bool:
        """True if an event of this type and session would reach any handler or observer.

        Those of other processes count: with a transport attached that shares
        the type, the answer is True.
        """
        if self._observers or self._registry.event_handlers(event_type, session_id):
            return True
        transport = self._transport
        return transport is not None and transport.shares(event_type)

    # -- other processes ----------------------------------------------------

    @property
    def transport(self) -> Transport | None:
        """The attached transport to other processes, if any."""
        return self._transport

    async def attach(self, transport: Transport) -> None:
        """Bridge this bus to other processes through ``transport`` (one at a time).

        From then on a command without a local handler is sent to a node that
        has one, and events of the transport's shared types reach every node.

        Raises:
            BusError: another transport is attached (``detach()`` it first).
        """
        if self._transport is transport:
            return
        if self._transport is not None:
            raise BusError(
                f"a transport is already attached ({self._transport!r}); "
                "await bus.detach() before attaching another"
            )
        self._ensure_loop()
        await transport.attach(self)
        self._transport = transport

    async def detach(self) -> None:
        """Disconnect the attached transport (nothing happens when none is attached)."""
        transport, self._transport = self._transport, None
        if transport is not None:
            await transport.detach()

    def command_routes(self) -> list[tuple[type[Command], str]]:
        """Every (command type, session id) this bus has a handler for (for transports)."""
        return [
            (command_type, session_id)
            for session_id, table in self._registry.commands.items()
            for command_type in table
        ]

    async def execute_here(self, command: Command) -> CommandResult:
        """Execute ``command`` with a handler of this process only (never sent elsewhere).

        What a transport calls for a command another node sent.

        Raises:
            NoCommandHandlerError: this process has no handler for it.
        """
        if self._registry.command_handler(type(command), command.session_id) is None:
            raise NoCommandHandlerError(
                f"no handler for command {type(command).__name__} (session "
                f"{command.session_id!r}, or ROOT) in this process"
            )
        return await self.execute(command)

    async def deliver_remote(self, event: Event) -> None:
        """Deliver an event another process published to the handlers here (not sent back)."""
        await self._publish_awaited(event)

    # -- commands -----------------------------------------------------------

    async def execute(self, command: Command) -> CommandResult:
        """Run ``command``'s handler and return its result; never raises for handler errors.

        The handler is the one of the command's session, else the ROOT one. A
        handler that raises gives ``CommandResult(success=False)`` with the
        traceback in ``metadata["exception_details"]``; a handler that returns
        something other than a ``CommandResult`` gets it wrapped as ``result``.
        With a transport attached, a command with no handler here is run by a
        node that has one (see :meth:`attach`).

        Raises:
            NoCommandHandlerError: no handler is registered for the command's type
                (and no transport is attached).
        """
        session_id = command.session_id
        registry = self._registry
        try:
            handler = registry.command_cache[(type(command), session_id)]
        except KeyError:
            handler = registry.command_handler(type(command), session_id)
        if handler is None:
            if self._transport is not None:
                return await self._transport.execute(command)
            raise NoCommandHandlerError(
                f"no handler registered for command {type(command).__name__} "
                f"(session {session_id!r}, or ROOT); register one with "
                f"bus.register_command_handler({type(command).__name__}, handler)"
            )
        return await self._run(command, handler)

    async def run_handler(self, command: Command, handler: Callable[[Any], Any]) -> CommandResult:
        """Run ``handler`` for ``command`` as :meth:`execute` runs a registered handler.

        The command becomes the current message (everything it causes joins
        its trace and session), the command events are published, and an
        exception becomes a failed result. Engines run their own commands
        this way when called directly (``engine.execute(prompt)``).
        """
        return await self._run(command, Handler(handler, is_async_callable(handler)))

    async def _run(self, command: Command, handler: Handler) -> CommandResult:
        session_id = command.session_id
        registry = self._registry
        token = current_message.set((command.command_id, command.trace_id, session_id))  # type: ignore[arg-type]
        try:
            # Bus events are only built when an observer or handler would see them.
            observed = bool(self._observers)
            listeners = registry.bus_event_cache.get(session_id)
            if listeners is None:
                listeners = registry.command_event_handlers(session_id)
            started_to, result_to = bool(listeners[0]), bool(listeners[1])
            # Shared like any event when the transport shares their types (a remote UI's trace).
            transport = self._transport
            if transport is not None:
                started_to = started_to or transport.shares(CommandStartedEvent)
                result_to = result_to or transport.shares(CommandResultEvent)
            if observed or started_to:
                await self._publish_command_event(
                    CommandStartedEvent(command=command, session_id=session_id)
                )
            try:
                if handler.is_async:
                    value = await handler.fn(command)
                else:
                    value = handler.fn(command)
                    if asyncio.iscoroutine(value) or isinstance(value, asyncio.Future):
                        value = await value
            except Exception as exc:
                result = self._failed_result(command, handler, exc)
            else:
                if type(value) is CommandResult or isinstance(value, CommandResult):
                    result = value
                else:
                    result = CommandResult(
                        success=True, result=value, metadata={"finished_in": "bus"}
                    )
            if result.command_id is None:
                result.command_id = command.command_id
            if result.session_id is None:
                result.session_id = session_id
            if observed or result_to:
                await self._publish_command_event(
                    CommandResultEvent(command_result=result, session_id=session_id)
                )
        finally:
            current_message.reset(token)
        return result

    async def _publish_command_event(self, event: Event) -> None:
        transport = self._transport
        if transport is not None and transport.shares(type(event)):
            transport.send_event(event)
        await self._publish_awaited(event)

    def _failed_result(self, command: Command, handler: Handler, exc: Exception) -> CommandResult:
        name = handler_name(handler.fn)
        logger.warning(
            "Command %s failed in %s: %s: %s",
            type(command).__name__,
            name,
            type(exc).__name__,
            default_redactor().redact_text(str(exc)),
        )
        return CommandResult(
            success=False,
            command_id=command.command_id,
            session_id=command.session_id,
            error=f"{type(exc).__name__}: {exc}",
            metadata={"exception_details": traceback.format_exc(), "handler": name},
        )

    # -- events -------------------------------------------------------------

    def publish(self, event: Event, await_processing: bool = True) -> Awaitable[None]:
        """Deliver ``event`` to its handlers; use as ``await bus.publish(event)``.

        Args:
            event: The event. A :class:`ScheduledEvent` is only scheduled:
                this returns at once and it is delivered at its time.
            await_processing: True (default) returns after every handler ran;
                False only queues the event (see :meth:`wait_for_events`).
        """
        # A plain method returning the delivery coroutine itself: one coroutine
        # per publish instead of two, on the bus's hottest path.
        if (
            self._queue
            or self._delivery is not None
            or not await_processing
            or self._transport is not None
        ):
            return self._publish_slow(event, await_processing)
        if isinstance(event, ScheduledEvent):
            self._schedule(event)
            return _done()
        return self._deliver(event)

    async def _publish_slow(self, event: Event, await_processing: bool) -> None:
        transport = self._transport
        if (
            transport is not None
            and not isinstance(event, ScheduledEvent)
            and transport.shares(type(event))
        ):
            transport.send_event(event)
        if isinstance(event, ScheduledEvent):
            self._schedule(event)
        elif not await_processing:
            self.publish_nowait(event)
        else:
            await self._publish_behind_queue(event)

    def publish_nowait(self, event: Event) -> None:
        """Queue ``event`` for delivery without waiting (usable from sync code).

        A started bus delivers it from its consumer task; otherwise it is
        delivered by the next awaited ``publish``, ``wait_for_events()`` or
        ``start()``.
        """
        if isinstance(event, ScheduledEvent):
            self._schedule(event)
            return
        transport = self._transport
        if transport is not None and transport.shares(type(event)):
            transport.send_event(event)
        self._queue.append((event, None))
        self._wake()

    async def _publish_awaited(self, event: Event) -> None:
        if self._queue or self._delivery is not None:
            await self._publish_behind_queue(event)
        else:
            await self._deliver(event)

    def _in_consumer_delivery(self) -> bool:
        return self._delivery is not None and _consumer_delivery.get() is self._delivery

    async def _publish_behind_queue(self, event: Event) -> None:
        self._ensure_loop()
        if self._running and not self._in_consumer_delivery():
            waiter = self._loop.create_future()  # type: ignore[union-attr]
            self._queue.append((event, waiter))
            self._wake()
            await waiter
            return
        # Not started, or a handler of a queued event publishing: deliver the
        # queued events first (in order), then this one, in this task.
        if not self._running:
            await self._drain_inline()
        await self._deliver(event)

    async def wait_for_events(self) -> None:
        """Return once every queued event (and those they queue in turn) was delivered.

        With ``unsuppress_event_errors()``, raises the first handler error of
        the queued deliveries.
        """
        self._ensure_loop()
        if not self._running:
            await self._drain_inline()
        elif not self._in_consumer_delivery():
            while self._queue or self._delivery is not None:
                waiter = self._loop.create_future()  # type: ignore[union-attr]
                self._queue.append((_BARRIER, waiter))
                self._wake()
                await waiter
        if self._queued_errors:
            error, self._queued_errors = self._queued_errors[0], []
            raise error

    ensure_events_processed = wait_for_events

    async def _drain_inline(self) -> None:
        while self._queue:
            await self._deliver_entry(*self._queue.popleft())

    async def _consume(self) -> None:
        loop = self._loop
        assert loop is not None
        this_task = asyncio.current_task()
        # stop() from a handler run here forgets this task: end with that delivery.
        while not self._stopping and self._consumer is this_task:
            if not self._queue:
                self._waiter = loop.create_future()
                await self._waiter
                self._waiter = None
                continue
            delivery = self._delivery = object()
            context_token = _consumer_delivery.set(delivery)
            try:
                await self._deliver_entry(*self._queue.popleft())
            finally:
                _consumer_delivery.reset(context_token)
                if self._delivery is delivery:
                    self._delivery = None

    async def _deliver_entry(self, event: Any, waiter: asyncio.Future[None] | None) -> None:
        """Deliver one queue entry (a barrier delivers nothing) and settle its waiter."""
        if event is not _BARRIER:
            try:
                await self._deliver(event)
            except Exception as exc:  # only raised with unsuppressed event errors
                if waiter is None:
                    self._queued_errors.append(exc)
                elif not waiter.done():
                    waiter.set_exception(exc)
                return
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            try:
                waiter.set_result(None)
            except RuntimeError:  # its loop is closed: _ensure_loop will recover
                self._waiter = None

    async def _deliver(self, event: Event) -> None:
        handlers = self._handler_cache.get((type(event), event.session_id))
        if handlers is None:
            handlers = self._registry.event_handlers(type(event), event.session_id)
        token = current_message.set((event.event_id, event.trace_id, event.session_id))  # type: ignore[arg-type]
        first_error: Exception | None = None
        try:
            for observer, is_async in self._observers:
                try:
                    if is_async:
                        await observer.handle(event)  # type: ignore[misc]
                    else:
                        observer.handle(event)
                except Exception as exc:
                    self._observer_failed(observer, event, exc)
            for fn, is_async in handlers:
                try:
                    if is_async:
                        await fn(event)
                    else:
                        value = fn(event)
                        if value is not None and (
                            asyncio.iscoroutine(value) or isinstance(value, asyncio.Future)
                        ):
                            await value
                except Exception as exc:
                    if first_error is None:
                        first_error = exc
                    await self._handler_failed(event, fn, exc)
        finally:
            current_message.reset(token)
        if first_error is not None and not self._suppress_event_errors:
            raise first_error

    def _observer_failed(
        self, observer: ObservabilityEventHandler, event: Event, exc: Exception
    ) -> None:
        self.event_handler_errors.append(exc)
        logger.warning(
            "Observability handler %r failed on %s: %s: %s",
            observer,
            type(event).__name__,
            type(exc).__name__,
            default_redactor().redact_text(str(exc)),
        )

    async def _handler_failed(self, event: Event, fn: Callable[..., Any], exc: Exception) -> None:
        self.event_handler_errors.append(exc)
        name = handler_name(fn)
        # The message is masked; the traceback (debug level only) is not.
        logger.warning(
            "Event handler %s failed on %s: %s: %s",
            name,
            type(event).__name__,
            type(exc).__name__,
            default_redactor().redact_text(str(exc)),
            exc_info=logger.isEnabledFor(logging.DEBUG),
        )
        if isinstance(event, EventHandlerFailedEvent):
            return  # a failing failure handler must not loop
        failure = EventHandlerFailedEvent(
            event=event, handler=name, exception=exc, session_id=event.session_id
        )
        try:
            await self._deliver(failure)
        except Exception:  # raised only when unsuppressed; the original error wins
            pass

    # -- scheduled events ---------------------------------------------------

    def _schedule(self, event: ScheduledEvent) -> None:
        transport = self._transport
        if transport is not None and transport.shares(type(event)):
            transport.schedule(event)  # fired once cluster-wide, not by this process
            return
        self._scheduler.push(event)
        try:
            loop = self._ensure_loop()
        except RuntimeError:  # no running loop: armed at start()
            return
        if self._running:
            if self._scheduler.timer is None:
                self._scheduler.arm(loop)
        else:
            logger.debug(
                "Scheduled %s while the bus is not started: it fires after start()",
                type(event).__name__,
            )

    def _enqueue_due(self, events: list[ScheduledEvent]) -> None:
        self._queue.extend((event, None) for event in events)
        self._wake()


set_default_bus(MessageBus)  # what a BusSession without a bus uses
