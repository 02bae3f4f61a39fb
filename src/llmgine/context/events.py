"""Events the chat-history managers publish."""

from __future__ import annotations

from dataclasses import field
from typing import Any

from llmgine.messages.events import Event

__all__ = ["ChatHistoryRetrievedEvent", "ChatHistoryUpdatedEvent", "ContextEvent"]


class ContextEvent(Event, kw_only=True):
    """Base of context events.

    Attributes:
        engine_id: The engine the history belongs to.
        context_manager_id: The history's id.
    """

    engine_id: str = ""
    context_manager_id: str = ""


class ChatHistoryRetrievedEvent(ContextEvent, kw_only=True):
    """The history was read to call a model (``context``: the messages sent)."""

    context: list[dict[str, Any]] = field(default_factory=list)


class ChatHistoryUpdatedEvent(ContextEvent, kw_only=True):
    """An assistant answer was added to the history (``context``: the history now)."""

    context: list[dict[str, Any]] = field(default_factory=list)
