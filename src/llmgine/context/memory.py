"""Chat histories kept in memory, in the OpenAI chat format.

``SimpleChatHistory`` keeps everything; ``InMemoryContextManager`` keeps the
most recent messages within a message count and an optional token budget.
Trimming never separates an assistant message that calls tools from the tool
results that answer it, and always keeps the system prompt.
"""

from __future__ import annotations

import json
from typing import Any

from llmgine.messages.trace import new_id
from llmgine.models.response import LLMResponse

__all__ = ["InMemoryContextManager", "SimpleChatHistory", "estimate_tokens"]


def estimate_tokens(message: dict[str, Any]) -> int:
    """A rough token count of a message: about four characters a token, plus overhead.

    Good enough to keep a history inside a budget; it is not a tokenizer.
    """
    content = message.get("content")
    text = content if isinstance(content, str) else json.dumps(content or "", default=str)
    for call in message.get("tool_calls") or []:
        text += json.dumps(call, default=str)
    for block in message.get("thinking_blocks") or []:  # sent back with the turn
        text += json.dumps(block, default=str)
    return 4 + len(text) // 4


def _assistant_dict(message: Any) -> dict[str, Any]:
    if isinstance(message, LLMResponse):
        return message.to_message()
    if isinstance(message, dict):
        return dict(message)
    # An SDK message object (the seed stored openai's ChatCompletionMessage).
    entry: dict[str, Any] = {"role": "assistant", "content": getattr(message, "content", None)}
    calls = getattr(message, "tool_calls", None)
    if calls:
        entry["tool_calls"] = [
            {
                "id": call.id,
                "type": "function",
                "function": {"name": call.function.name, "arguments": call.function.arguments},
            }
            for call in calls
        ]
    return entry


class SimpleChatHistory:
    """The whole conversation of one engine, with a separate system prompt.

    The seed's API: ``store_string``, ``store_assistant_message``,
    ``store_tool_call_result``, ``retrieve``, ``clear``, ``set_system_prompt``.

    It publishes nothing: what a model was sent and what it answered are the
    LLM events of the call.

    Args:
        engine_id: The engine it belongs to.
        session_id: The engine's session.
    """

    def __init__(self, engine_id: str = "", session_id: str = "ROOT") -> None:
        self.engine_id = engine_id
        self.session_id = session_id
        self.context_manager_id = new_id()
        self.chat_history: list[dict[str, Any]] = []
        self.system_prompt: str | None = None

    def set_system_prompt(self, prompt: str | None) -> None:
        """Set (or remove, with None) the system prompt sent first on every call."""
        self.system_prompt = prompt or None

    def store_string(self, string: str, role: str = "user") -> None:
        """Add a plain message (``role`` is ``"user"`` by default)."""
        self.chat_history.append({"role": role, "content": string})

    async def store_assistant_message(self, message: LLMResponse | dict[str, Any] | Any) -> None:
        """Add the model's answer (an LLMResponse, an OpenAI-format dict or an SDK message)."""
        self.chat_history.append(_assistant_dict(message))

    def store_tool_call_result(
        self, tool_call_id: str, name: str, content: str | list[dict[str, Any]]
    ) -> None:
        """Add the result of one tool call (its text, or content parts with images)."""
        self.chat_history.append(
            {"role": "tool", "tool_call_id": tool_call_id, "name": name, "content": content}
        )

    def messages(self) -> list[dict[str, Any]]:
        """The messages to send: the system prompt, then the (kept) history."""
        system = [{"role": "system", "content": self.system_prompt}] if self.system_prompt else []
        return system + list(self.chat_history)

    async def retrieve(self) -> list[dict[str, Any]]:
        """The messages to send (the seed's async spelling of :meth:`messages`)."""
        return self.messages()

    def clear(self) -> None:
        """Forget the conversation (the system prompt stays)."""
        self.chat_history.clear()

    def checkpoint(self) -> int:
        """A mark to :meth:`rollback` to (e.g. when a turn is cancelled)."""
        return len(self.chat_history)

    def rollback(self, checkpoint: int) -> None:
        """Drop every message added since ``checkpoint``."""
        del self.chat_history[checkpoint:]


class InMemoryContextManager(SimpleChatHistory):
    """A chat history bounded in messages and, optionally, in estimated tokens.

    The oldest messages go first. An assistant message with tool calls and the
    tool results answering it are dropped together, and the history never
    starts with a tool result; the system prompt is always kept.

    Args:
        engine_id: The engine it belongs to.
        session_id: The session of its events.
        max_messages: Most messages kept (the system prompt not counted).
        max_tokens: Token budget of the messages sent (system prompt included),
            by :func:`estimate_tokens`; None for no budget.
    """

    def __init__(
        self,
        engine_id: str = "",
        session_id: str = "ROOT",
        *,
        max_messages: int | None = 100,
        max_tokens: int | None = None,
    ) -> None:
        super().__init__(engine_id, session_id)
        self.max_messages = max_messages
        self.max_tokens = max_tokens

    def _blocks(self) -> list[list[dict[str, Any]]]:
        # An assistant message that calls tools and the tool messages after it
        # form one block; every other message is a block of its own.
        blocks: list[list[dict[str, Any]]] = []
        for message in self.chat_history:
            if message.get("role") == "tool" and blocks and _calls_tools(blocks[-1][0]):
                blocks[-1].append(message)
            else:
                blocks.append([message])
        return blocks

    def messages(self) -> list[dict[str, Any]]:
        """The messages to send, trimmed to the limits."""
        blocks = self._blocks()
        system = [{"role": "system", "content": self.system_prompt}] if self.system_prompt else []
        budget = self.max_tokens
        used = sum(estimate_tokens(m) for m in system)
        kept: list[list[dict[str, Any]]] = []
        count = 0
        for block in reversed(blocks):
            size = len(block)
            tokens = sum(estimate_tokens(m) for m in block)
            if self.max_messages is not None and count + size > self.max_messages and kept:
                break
            if budget is not None and used + tokens > budget and kept:
                break
            kept.append(block)
            count += size
            used += tokens
        kept.reverse()
        flat = [message for block in kept for message in block]
        while flat and flat[0].get("role") == "tool":  # a result whose call was trimmed
            flat.pop(0)
        return system + flat


def _calls_tools(message: dict[str, Any]) -> bool:
    return message.get("role") == "assistant" and bool(message.get("tool_calls"))
