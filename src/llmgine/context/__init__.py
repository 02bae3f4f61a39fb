"""Conversation histories for engines (OpenAI chat format)."""

from llmgine.context.memory import InMemoryContextManager, SimpleChatHistory, estimate_tokens

#: The context interface engines rely on (the seed's API).
ContextManager = SimpleChatHistory

__all__ = [
    "ContextManager",
    "InMemoryContextManager",
    "SimpleChatHistory",
    "estimate_tokens",
]
