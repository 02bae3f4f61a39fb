"""Conversation history for engines (OpenAI chat format)."""

from llmgine.context.events import (
    ChatHistoryRetrievedEvent,
    ChatHistoryUpdatedEvent,
    ContextEvent,
)
from llmgine.context.memory import InMemoryContextManager, SimpleChatHistory, estimate_tokens

#: The context interface engines rely on (the seed's API).
ContextManager = SimpleChatHistory

__all__ = [
    "ChatHistoryRetrievedEvent",
    "ChatHistoryUpdatedEvent",
    "ContextEvent",
    "ContextManager",
    "InMemoryContextManager",
    "SimpleChatHistory",
    "estimate_tokens",
]
