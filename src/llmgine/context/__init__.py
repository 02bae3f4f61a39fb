"""Conversation histories for engines (OpenAI chat format), in memory or stored in SQLite."""

from llmgine.context.conversations import (
    ConversationInfo,
    ConversationStore,
    StoredMessage,
    new_conversation_id,
)
from llmgine.context.db import SCHEMA_VERSION, default_db_path
from llmgine.context.memory import InMemoryContextManager, SimpleChatHistory, estimate_tokens
from llmgine.context.persistent import SQLiteContextManager

#: The context interface engines rely on (the seed's API).
ContextManager = SimpleChatHistory

__all__ = [
    "SCHEMA_VERSION",
    "ContextManager",
    "ConversationInfo",
    "ConversationStore",
    "InMemoryContextManager",
    "SQLiteContextManager",
    "SimpleChatHistory",
    "StoredMessage",
    "default_db_path",
    "estimate_tokens",
    "new_conversation_id",
]
