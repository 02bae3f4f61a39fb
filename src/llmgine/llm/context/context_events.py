"""Seed import path of the context events; use :mod:`llmgine.llm.context`."""

from llmgine.llm.context.events import (
    ChatHistoryRetrievedEvent,
    ChatHistoryUpdatedEvent,
    ContextEvent,
)

__all__ = ["ChatHistoryRetrievedEvent", "ChatHistoryUpdatedEvent", "ContextEvent"]
