"""A stored conversation with memory: relevant earlier turns brought into each turn's context.

:class:`MemoryContextManager` is a
:class:`~llmgine.context.SQLiteContextManager` that, at the first
:meth:`~MemoryContextManager.retrieve` of a turn, recalls the stored turns most
similar to the user's message (leaving out those still in the context window)
and adds them, under the memory's token budget, to the system prompt. Each
finished turn is embedded when its answer is stored. What was recalled is
published as a :class:`~llmgine.memory.events.MemoryRecallEvent` through the
injected event sink, when someone listens.
"""

from __future__ import annotations

import logging
from typing import Any

from llmgine.context.persistent import SQLiteContextManager
from llmgine.errors import LLMgineError
from llmgine.memory.events import MemoryRecallEvent
from llmgine.memory.recall import Memory, Recall
from llmgine.messages.sink import EventSink
from llmgine.models.response import LLMResponse, content_text

__all__ = ["MemoryContextManager", "last_question", "with_recall"]

logger = logging.getLogger("llmgine.memory")


def last_question(history: list[dict[str, Any]]) -> tuple[int, str] | None:
    """The index and text of the last user message of ``history`` (what a turn recalls for)."""
    for index in range(len(history) - 1, -1, -1):
        if history[index].get("role") == "user":
            return index, content_text(history[index].get("content"))
    return None


def with_recall(messages: list[dict[str, Any]], recall: Recall | None) -> list[dict[str, Any]]:
    """``messages`` with ``recall``'s turns appended to the system prompt (or as one)."""
    if recall is None or not recall.turns:
        return messages
    block = Memory.block(recall)
    if messages and messages[0].get("role") == "system":
        first = dict(messages[0])
        first["content"] = f"{content_text(first.get('content'))}\n\n{block}"
        return [first, *messages[1:]]
    return [{"role": "system", "content": block}, *messages]


class MemoryContextManager(SQLiteContextManager):
    """A stored, bounded chat history that recalls relevant earlier turns.

    Args:
        engine_id: The engine it belongs to.
        session_id: The session of its events.
        memory: The memory (its store holds the conversation too).
        events: Where :class:`MemoryRecallEvent` goes (an engine passes its bus).
        conversation_id: Continue this conversation; None starts a new one.
        max_messages: Most messages of the conversation sent.
        max_tokens: Token budget of the conversation's messages (the memory
            has its own, ``memory.token_budget``).
        metadata: JSON stored with the conversation.

    Raises:
        ConversationNotFoundError: ``conversation_id`` names no stored conversation.
    """

    def __init__(
        self,
        engine_id: str = "",
        session_id: str = "ROOT",
        *,
        memory: Memory,
        events: EventSink | None = None,
        conversation_id: str | None = None,
        max_messages: int | None = 100,
        max_tokens: int | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(
            engine_id,
            session_id,
            store=memory.store,
            conversation_id=conversation_id,
            max_messages=max_messages,
            max_tokens=max_tokens,
            metadata=metadata,
        )
        self.memory = memory
        self.events = events
        self.last_recall: Recall | None = None
        self._recalled_for: tuple[str, int, str] | None = None

    def _window_ids(self, shown: int) -> list[int]:
        """Row ids of the last ``shown`` messages (those the context window keeps)."""
        ids = self.row_ids[len(self.row_ids) - shown :] if shown else []
        return [row_id for row_id in ids if row_id is not None]

    async def retrieve(self) -> list[dict[str, Any]]:
        """The messages to send, with the recalled turns added to the system prompt.

        The recall runs once per user message; a failed recall (the embedder
        unreachable) leaves the turn without memory and says why in the event.
        """
        messages = self.messages()
        asked = last_question(self.chat_history)
        if asked is None:
            return messages
        index, question = asked
        key = (self.conversation_id, index, question)
        if key != self._recalled_for:
            self._recalled_for = key
            shown = len(messages) - (1 if self.system_prompt else 0)
            self.last_recall = await self._recall(question, self._window_ids(shown))
        return self.with_recall(messages, self.last_recall)

    async def _recall(self, question: str, visible: list[int]) -> Recall:
        try:
            found = await self.memory.recall(
                question, conversation_id=self.conversation_id, exclude_message_ids=visible
            )
        except LLMgineError as exc:
            found = Recall(query=question, error=f"{type(exc).__name__}: {exc}")
        events = self.events
        if events is not None and events.has_handlers(MemoryRecallEvent, self.session_id):
            await events.publish(
                MemoryRecallEvent(
                    conversation_id=self.conversation_id,
                    query=question,
                    embedder=self.memory.embedder.name,
                    backend=self.memory.backend,
                    recalled=[turn.to_dict() for turn in found.turns],
                    tokens=found.tokens,
                    token_budget=self.memory.token_budget,
                    candidates=found.candidates,
                    skipped=found.skipped,
                    duration_s=found.duration_s,
                    error=found.error,
                    session_id=self.session_id,
                )
            )
        return found

    def with_recall(
        self, messages: list[dict[str, Any]], recall: Recall | None
    ) -> list[dict[str, Any]]:
        """``messages`` with the recalled turns appended to the system prompt (or as one)."""
        return with_recall(messages, recall)

    def memory_settings(self) -> dict[str, Any]:
        """How this memory recalls (a run's header records it; a replay shows it again)."""
        return {
            "embedder": self.memory.embedder.name,
            "backend": self.memory.backend,
            "token_budget": self.memory.token_budget,
        }

    async def store_assistant_message(self, message: LLMResponse | dict[str, Any] | Any) -> None:
        """Store the answer; a final one (no tool calls) is embedded with its question."""
        await super().store_assistant_message(message)
        if self.chat_history[-1].get("tool_calls"):
            return
        try:
            await self.memory.index(self.conversation_id)
        except LLMgineError as exc:  # the turn is kept; it is embedded at the next answer
            logger.warning("the turn could not be embedded yet: %s", exc)

    def clear(self) -> None:
        """Forget the conversation (its memories go with its messages)."""
        super().clear()
        self._recalled_for = None

    def rollback(self, checkpoint: int) -> None:
        """Drop the messages since ``checkpoint`` (and their memories)."""
        super().rollback(checkpoint)
        self._recalled_for = None
