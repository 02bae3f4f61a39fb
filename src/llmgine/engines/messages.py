"""Commands and events that engines handle and publish (what a UI listens to)."""

from __future__ import annotations

from llmgine.messages.commands import Command
from llmgine.messages.events import Event

__all__ = [
    "EngineCommand",
    "EngineStatusEvent",
    "EngineTextDeltaEvent",
    "EngineThinkingDeltaEvent",
    "FINISHED",
]

#: The status an engine publishes when a turn is over (a UI stops its spinner).
FINISHED = "finished"


class EngineCommand(Command):
    """Ask an engine to handle a prompt: ``ToolChatEngineCommand("hello")``.

    Attributes:
        prompt: The user's message.
    """

    prompt: str = ""


class EngineStatusEvent(Event, kw_only=True):
    """What an engine is doing: ``"calling openai:gpt-4.1-mini"``, ``"finished"``...

    Attributes:
        status: Short human-readable status; :data:`FINISHED` ends a turn.
        engine_id: The engine.
    """

    status: str = ""
    engine_id: str = ""


class EngineTextDeltaEvent(Event, kw_only=True):
    """A piece of the answer as a streaming model produces it.

    Attributes:
        text: The new text.
        engine_id: The engine.
    """

    text: str = ""
    engine_id: str = ""


class EngineThinkingDeltaEvent(Event, kw_only=True):
    """A piece of the model's thinking as a streaming model produces it (not the answer).

    Attributes:
        text: The new thinking text.
        engine_id: The engine.
    """

    text: str = ""
    engine_id: str = ""
