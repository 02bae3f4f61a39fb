"""Commands and events that engines handle and publish (what a UI listens to)."""

from __future__ import annotations

from dataclasses import field
from typing import Any

from llmgine.messages.commands import Command
from llmgine.messages.events import Event, StreamDeltaEvent

__all__ = [
    "RunStartedEvent",
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


class EngineTextDeltaEvent(StreamDeltaEvent, kw_only=True):
    """A piece of the answer as a streaming model produces it.

    Attributes:
        text: The new text.
        engine_id: The engine.
    """

    engine_id: str = ""


class EngineThinkingDeltaEvent(StreamDeltaEvent, kw_only=True):
    """A piece of the model's thinking as a streaming model produces it (not the answer).

    Attributes:
        text: The new thinking text.
        engine_id: The engine.
    """

    engine_id: str = ""


class RunStartedEvent(Event, kw_only=True):
    """An engine starts working: what it is and how it is set up (it opens a run's log).

    Published once per engine, before its first turn. A run can be rebuilt
    from it (``llmgine replay``): the engine class, the settings it was made
    with, its models, its tools' schemas and any random seed.

    Attributes:
        engine: ``"module:Class"`` of the engine.
        engine_id: The engine.
        settings: The settings it was made with (JSON; models as strings).
        models: Every model it calls, as ``"provider:model"`` strings.
        tools: The schemas of the tools it offers (``name``, ``description``,
            ``parameters``).
        seed: The seed of its random choices (the consortium's shuffle), if any.
        llmgine_version: The version that wrote the log.
        python: The Python version.
        schema_version: The version of the log's format.
    """

    engine: str = ""
    engine_id: str = ""
    settings: dict[str, Any] = field(default_factory=dict)
    models: list[str] = field(default_factory=list)
    tools: list[dict[str, Any]] = field(default_factory=list)
    seed: int | None = None
    llmgine_version: str = ""
    python: str = ""
    schema_version: int = 1
