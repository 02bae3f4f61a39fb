"""One browser tab's conversation: its bus session, its engine, its messages, its turn.

Like the terminal CLI, a :class:`WebSession` is a pure bus client: it sends
the engine's command for each prompt and turns the events of its session
into messages for the page (numbered in its :class:`~llmgine.web.outbox.Outbox`).
The engine is behind an :class:`~llmgine.web.driver.EngineDriver`: the tab's
own engine in this process, or one on Redis workers. It answers the engine's
:class:`~llmgine.tools.events.ToolApprovalCommand` by asking the page (a
worker's reaches it through the transport, which routes a session's commands
to the node holding its handler), and denies when no answer comes in time.
Stop cancels the running turn, as Ctrl-C does in the CLI (on a worker too:
the transport cancels a command whose caller is cancelled).

Messages to the page (``kind``): ``event`` (a bus event, masked), ``trace``
(a turn's tree), ``turn`` (started / finished / cancelled), ``approval`` and
``approval_done``, ``state`` (engine, model, tools, usage, conversation id...),
``notice``, ``history`` (a continued stored conversation's messages),
``cleared`` and ``new_conversation``.
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Sequence
from typing import Any

from llmgine.bus.interface import Bus
from llmgine.bus.session import BusSession
from llmgine.engines.base import Engine
from llmgine.engines.messages import EngineTextDeltaEvent, EngineThinkingDeltaEvent
from llmgine.engines.ui_events import UI_EVENTS
from llmgine.errors import LLMgineError
from llmgine.messages.commands import CommandResult
from llmgine.messages.events import Event
from llmgine.observability.redaction import Redactor, default_redactor
from llmgine.tools.events import ToolApprovalCommand
from llmgine.web.controls import Controls
from llmgine.web.driver import EngineDriver, LocalEngine
from llmgine.web.history import transcript
from llmgine.web.outbox import Outbox
from llmgine.web.payload import StreamMasker, message_payload
from llmgine.web.trace import LiveTrace

__all__ = ["WATCHED_EVENTS", "WebSession"]

#: The events a page is sent (and their subclasses), by the name the page knows them by.
WATCHED_EVENTS: tuple[type[Event], ...] = UI_EVENTS
_STREAMS: dict[type[Event], str] = {
    EngineTextDeltaEvent: "text",
    EngineThinkingDeltaEvent: "thinking",
}
# Result metadata a page shows under an answer.
_RESULT_METADATA = (
    "model",
    "usage",
    "cost_usd",
    "session_usage",
    "session_cost_usd",
    "error_type",
    "strategy",
    "iterations",
    "confidence",
    "stop_reason",
    "fallback_reason",
)


class WebSession:
    """A browser tab's conversation with its own engine, in its own bus session.

    Args:
        session_id: The bus session (the engine's session too).
        engine: The engine of this tab, or what drives one elsewhere
            (a :class:`~llmgine.web.driver.RemoteEngine`).
        bus: The bus the engine publishes on.
        notices: Warnings the page shows in its banner (the offline model's...).
        approval_timeout: Seconds a tool approval waits for the page; then it is denied.
        outbox: Where the page's messages are kept (default: a new one).
        redactor: What masks secrets (default: the shared one).
    """

    def __init__(
        self,
        session_id: str,
        engine: Engine | EngineDriver,
        *,
        bus: Bus,
        notices: Sequence[str] = (),
        approval_timeout: float = 120.0,
        outbox: Outbox | None = None,
        redactor: Redactor | None = None,
    ) -> None:
        self.session_id = session_id
        self.driver = engine if isinstance(engine, EngineDriver) else LocalEngine(engine)
        self.bus = bus
        self.notices = [line for line in notices if line]
        self.approval_timeout = approval_timeout
        self.outbox = outbox if outbox is not None else Outbox()
        self.redactor = redactor or default_redactor()
        self.trace = LiveTrace()
        self.controls = Controls(self)
        self.bus_session = BusSession(session_id, bus)
        self.created = time.monotonic()
        self.closed = False
        self._turn: asyncio.Task[None] | None = None
        self._answering = False  # from the prompt until its outcome is posted
        self._approvals: dict[str, asyncio.Future[bool]] = {}
        self._maskers = {name: StreamMasker(self.redactor) for name in _STREAMS.values()}
        self._last_delta: dict[str, Event] = {}
        self._last_event_id = ""

    # -- life ----------------------------------------------------------------------------

    async def open(self) -> None:
        """Register the session's handlers (the engine's command, approvals, events)."""
        session = self.bus_session
        await session.__aenter__()  # publishes SessionStartEvent to whoever listens
        self.driver.open(session)
        session.register_command_handler(ToolApprovalCommand, self._ask_approval)
        for event_type in WATCHED_EVENTS:
            session.register_event_handler(event_type, self._on_event)
        self.post_state()
        history = self.driver.history()
        if history:  # a continued stored conversation: the page shows what came before
            shown = transcript(self.redactor.redact(history))  # masked whole, then cut
            self.post({"kind": "history", "conversation_id": self.driver.conversation_id, **shown})

    async def close(self) -> None:
        """Cancel the running turn, end the bus session and stop the page's senders."""
        if self.closed:
            return
        self.closed = True
        await self.stop()
        await self.bus_session.end()
        await self.driver.close()  # the MCP servers this tab's engine started
        self.outbox.close()

    @property
    def engine(self) -> Engine | None:
        """The tab's engine, when it is in this process (None when it runs on workers)."""
        return self.driver.engine

    @property
    def turn_running(self) -> bool:
        """True while a prompt is being answered."""
        return self._answering and self._turn is not None and not self._turn.done()

    @property
    def pending_approvals(self) -> list[str]:
        """The ids of the approvals waiting for the page's answer."""
        return list(self._approvals)

    # -- messages to the page ---------------------------------------------------------------

    def post(self, message: dict[str, Any], key: str | None = None) -> int:
        """Send ``message`` to the page (numbered, kept for a reconnect)."""
        return self.outbox.append(message, key)

    def notice(self, text: str, level: str = "info") -> None:
        """One line for the page: ``info``, ``warning`` or ``error``."""
        self.post({"kind": "notice", "level": level, "text": self.redactor.redact_text(text)})

    def state(self) -> dict[str, Any]:
        """What the page's controls show: engine, model, system prompt, tools, usage, notices."""
        supports = self.controls.supported()
        state = {
            "kind": "state",
            "session_id": self.session_id,
            **self.driver.describe(),
            "supports": supports,
            "unsupported": {
                name: self.driver.unsupported(name) for name, ok in supports.items() if not ok
            },
            "notices": self.notices,
            "turn_running": self.turn_running,
            "approval_timeout": self.approval_timeout,
        }
        masked: dict[str, Any] = self.redactor.redact(state)
        return masked

    def post_state(self) -> None:
        """Send the current :meth:`state` (a reconnecting page gets only the newest)."""
        self.post(self.state(), key="state")

    def model_warning(self) -> None:
        """Warn when the engine's model has no API key (after a switch)."""
        warning = self.driver.model_warning()
        if warning:
            self.notice(warning, "warning")

    # -- events -------------------------------------------------------------------------------

    def _on_event(self, event: Event) -> None:
        if event.event_id == self._last_event_id:  # one event, registered through two types
            return
        self._last_event_id = event.event_id
        stream = _STREAMS.get(type(event)) or next(
            (name for kind, name in _STREAMS.items() if isinstance(event, kind)), None
        )
        if stream is not None:
            self._last_delta[stream] = event
            text = self._maskers[stream].feed(str(getattr(event, "text", "") or ""))
            if text:
                self._post_event(event, text=text)
            return
        self.flush_streams()
        payload = self._post_event(event)
        trace_id = self.trace.add(payload)
        if trace_id is not None:
            self._post_trace(trace_id)
        if self.driver.observe(event):  # e.g. a worker's run header names its model
            self.post_state()

    def _post_trace(self, trace_id: str) -> None:
        roots = self.trace.trees(trace_id)
        if roots:
            self.post({"kind": "trace", "trace_id": trace_id, "roots": roots}, f"trace:{trace_id}")

    def _post_event(self, event: Event, text: str | None = None) -> dict[str, Any]:
        payload = message_payload(event, self.redactor)
        if text is not None:
            payload["text"] = text
        family = next((kind for kind in WATCHED_EVENTS if isinstance(event, kind)), type(event))
        self.post({"kind": "event", "type": family.__name__, "event": payload})
        return payload

    def flush_streams(self) -> None:
        """Send the streamed text held back (the stream ended, or something else came)."""
        for stream, masker in self._maskers.items():
            if not masker.held:
                continue
            text = masker.flush()
            last = self._last_delta.get(stream)
            if last is not None and text:
                self._post_event(last, text=text)

    # -- turns --------------------------------------------------------------------------------

    def submit(self, prompt: str) -> bool:
        """Start answering ``prompt``; False (and a notice) when a turn is running already."""
        if self.closed:
            return False
        if self.turn_running:
            self.notice("A turn is running: wait for it, or press Stop first.", "warning")
            return False
        command = self.driver.command(prompt, self.session_id)
        self._answering = True
        self._turn = asyncio.create_task(
            self._run_turn(command), name=f"llmgine-web-turn-{self.session_id}"
        )
        return True

    async def _run_turn(self, command: Any) -> None:
        turn = {"kind": "turn", "turn_id": command.command_id}
        self.post({**turn, "state": "started", "prompt": self.redactor.redact_text(command.prompt)})
        try:
            result = await self.bus.execute(command)
        except asyncio.CancelledError:
            self._answering = False
            self.flush_streams()
            self.trace.cancel(command.command_id)
            self._post_trace(command.command_id)
            self.post({**turn, "state": "cancelled"})
            self.post_state()
            raise
        except LLMgineError as exc:  # e.g. no handler: one line, like any failed turn
            result = CommandResult(success=False, error=str(exc))
        self._answering = False
        self.driver.finished(result)
        self.flush_streams()
        metadata = {k: result.metadata.get(k) for k in _RESULT_METADATA if k in result.metadata}
        finished = {
            **turn,
            "state": "finished",
            "success": result.success,
            "result": None if result.result is None else str(result.result),
            "error": result.error,
            "metadata": metadata,
        }
        self.post(self.redactor.redact(finished))
        self.post_state()

    async def stop(self) -> bool:
        """Cancel the running turn (its pending approvals too); True if there was one."""
        task = self._turn
        if task is None or task.done():
            return False
        task.cancel()
        await asyncio.wait({task})
        return True

    # -- approvals ----------------------------------------------------------------------------

    async def _ask_approval(self, command: ToolApprovalCommand) -> CommandResult:
        """Ask the page whether the tool may run; no answer in time denies it."""
        request_id = command.command_id
        answer: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._approvals[request_id] = answer
        arguments = self.redactor.redact(dict(command.arguments or {}))
        self.post(
            {
                "kind": "approval",
                "id": request_id,
                "trace_id": command.trace_id,
                "tool_name": command.tool_name,
                "tool_call_id": command.tool_call_id,
                "description": self.redactor.redact_text(command.description or ""),
                "arguments": arguments,
                "timeout_s": self.approval_timeout,
                "deadline": time.time() + self.approval_timeout,
            }
        )
        outcome = "timeout"
        try:
            async with asyncio.timeout(self.approval_timeout):
                allowed = await answer
            outcome = "allowed" if allowed else "denied"
            return CommandResult(success=True, result=allowed)
        except TimeoutError:
            return CommandResult(
                success=False, error=f"no answer within {self.approval_timeout:g} s"
            )
        except asyncio.CancelledError:
            outcome = "cancelled"
            raise
        finally:
            self._approvals.pop(request_id, None)
            self.post({"kind": "approval_done", "id": request_id, "outcome": outcome})

    def answer_approval(self, request_id: str, allow: bool) -> bool:
        """Answer a pending approval; False when it is not pending (answered, timed out)."""
        answer = self._approvals.get(request_id)
        if answer is None or answer.done():
            return False
        answer.set_result(bool(allow))
        return True

    # -- what the page sends -----------------------------------------------------------------

    async def handle(self, message: Any) -> None:
        """Act on one message from the page (``{"type": "prompt", "text": ...}``...).

        Malformed or unknown messages, and controls that fail, become notices.
        """
        if not isinstance(message, dict) or not isinstance(message.get("type"), str):
            self.notice("The server got a message it does not understand.", "error")
            return
        kind = message["type"]
        if kind == "prompt":
            text = message.get("text")
            if isinstance(text, str) and text.strip():
                self.submit(text.strip())
            return
        if kind == "stop":
            if not await self.stop():
                self.notice("Nothing to stop.")
            return
        if kind == "approve":
            if not self.answer_approval(str(message.get("id")), message.get("allow") is True):
                self.notice("That approval is no longer pending.", "warning")
            return
        action = self.controls.get(kind)
        if action is None:
            self.notice(f"Unknown request {kind!r}.", "error")
            return
        try:
            value = action(message)
            if inspect.isawaitable(value):
                await value
        except LLMgineError as exc:
            self.notice(str(exc), "error")
        except Exception as exc:  # a control must not end the connection
            self.notice(f"{kind} failed: {type(exc).__name__}: {exc}", "error")
