"""Helpers of the web front end's tests: engines on offline models, reading a session's messages."""

from __future__ import annotations

import asyncio
import json
import queue
import threading
from collections.abc import Callable, Sequence
from typing import Any

from llmgine import tool
from llmgine.bus.bus import MessageBus
from llmgine.engines.tool_chat_engine import ToolChatEngine
from llmgine.models.interface import Model
from llmgine.web.session import WebSession

TOKEN = "web-test-token-0123456789abcdef"
ORIGIN = "http://127.0.0.1"
BASE_URL = "http://127.0.0.1"
WS_URL = "ws://127.0.0.1/ws"
SECRET = "Zq9-super-secret-value-7781"  # a literal secret the redactor is told about

Message = dict[str, Any]


@tool
def get_weather(city: str) -> str:
    """Today's weather in a city.

    Args:
        city: The city.
    """
    return f"{city}: sunny, 21 °C"


@tool
def reveal(name: str) -> str:
    """A tool whose result holds secrets (a key pattern and a known secret value).

    Args:
        name: Anything.
    """
    return f"{name}: key sk-proj-ABCDEFGHIJKLMNOPQRSTUVWX1234 and {SECRET}"


@tool(requires_approval=True)
def delete_note(name: str) -> str:
    """Delete a note (asks first).

    Args:
        name: The note.
    """
    return f"deleted {name}"


class Gate:
    """A tool that waits until released (never, unless the test says so): a slow turn."""

    def __init__(self) -> None:
        self.started = asyncio.Event()
        self.release = asyncio.Event()
        self.cancelled = False

    def tool(self) -> Callable[..., Any]:
        gate = self

        @tool
        async def slow_report(topic: str) -> str:
            """Write a report (slowly).

            Args:
                topic: What about.
            """
            gate.started.set()
            try:
                await gate.release.wait()
            except asyncio.CancelledError:
                gate.cancelled = True
                raise
            return f"report on {topic}"

        return slow_report


def engine_factory(
    model: Callable[[], Model], tools: Sequence[Any] = (), bus: MessageBus | None = None
) -> Callable[[str], Any]:
    """An engine factory for create_app: a streaming tool-chat engine per session."""

    async def make(session_id: str) -> ToolChatEngine:
        engine = ToolChatEngine(session_id=session_id, model=model(), stream=True, bus=bus)
        if tools:
            await engine.register_tools(*tools)
        return engine

    return make


# -- a WebSession's outbox, read in order ------------------------------------------------------


class Reader:
    """Reads the messages of a session's outbox in order, waiting for new ones."""

    def __init__(self, session: WebSession) -> None:
        self.session = session
        self.seq = 0
        self.seen: list[Message] = []

    async def until(self, predicate: Callable[[Message], bool], within: float = 30.0) -> Message:
        """Read until a message satisfies ``predicate`` (for ``within`` seconds); return it."""
        async with asyncio.timeout(within):
            while True:
                items, _ = self.session.outbox.after(self.seq)
                for seq, text in items:
                    self.seq = seq
                    message = json.loads(text)
                    self.seen.append(message)
                    if predicate(message):
                        return message
                await self.session.outbox.wait(self.seq)

    def events(self, type_name: str) -> list[Message]:
        return [m["event"] for m in self.seen if m["kind"] == "event" and m["type"] == type_name]


def kind(name: str, **fields: Any) -> Callable[[Message], bool]:
    """A predicate: the message's ``kind`` is ``name`` and it has these field values."""
    return lambda m: m.get("kind") == name and all(m.get(k) == v for k, v in fields.items())


def event(type_name: str, **fields: Any) -> Callable[[Message], bool]:
    """A predicate: an ``event`` message of this type with these event field values."""
    return lambda m: (
        m.get("kind") == "event"
        and m.get("type") == type_name
        and all(m["event"].get(k) == v for k, v in fields.items())
    )


# -- a TestClient WebSocket, read with a time limit ---------------------------------------------


def receive(ws: Any, timeout: float = 30.0) -> Message:
    """The next message of a TestClient WebSocket; fails the test after ``timeout`` seconds.

    The TestClient's receive blocks for good; it runs in a thread here so a
    message that never comes fails the test instead of hanging it.
    """
    box: queue.Queue[tuple[bool, Any]] = queue.Queue()

    def read() -> None:
        try:
            box.put((True, ws.receive_text()))
        except BaseException as exc:  # handed to the test's thread
            box.put((False, exc))

    threading.Thread(target=read, daemon=True).start()
    try:
        ok, value = box.get(timeout=timeout)
    except queue.Empty:
        raise AssertionError(f"no message from the server within {timeout} s") from None
    if not ok:
        raise value
    message: Message = json.loads(value)
    return message


def receive_until(
    ws: Any, predicate: Callable[[Message], bool], seen: list[Message] | None = None
) -> Message:
    """Receive until a message satisfies ``predicate`` (every message goes to ``seen``)."""
    for _ in range(10_000):
        message = receive(ws)
        if seen is not None:
            seen.append(message)
        if predicate(message):
            return message
    raise AssertionError("the expected message never came")
