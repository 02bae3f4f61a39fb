"""A replay's memory: what a recorded run recalled, brought in again from its log.

A run with memory recalls earlier turns from the conversations store; a
replay never reads or writes the store (it may be elsewhere, or changed
since). :class:`RecordedRecallContext` is an in-memory conversation that, at
each turn, brings in the turns the recorded run recalled for it (its
:class:`~llmgine.memory.events.MemoryRecallEvent`, in order) exactly as the
memory did, and publishes that event again, so the replayed requests and
events are the recorded ones.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from typing import Any

from llmgine.context.memory import InMemoryContextManager
from llmgine.memory.context import last_question, with_recall
from llmgine.memory.events import MemoryRecallEvent
from llmgine.memory.recall import Recall, RecalledTurn
from llmgine.messages.sink import EventSink

__all__ = ["RecordedRecallContext"]

_FIELDS = (
    "conversation_id",
    "query",
    "embedder",
    "backend",
    "recalled",
    "tokens",
    "token_budget",
    "candidates",
    "skipped",
    "duration_s",
    "error",
)


class RecordedRecallContext(InMemoryContextManager):
    """An in-memory conversation whose turns recall what a recorded run's did.

    Args:
        engine_id: The engine it belongs to.
        session_id: The session of its events.
        recalls: The recorded ``MemoryRecallEvent`` fields, one per turn, in order.
        settings: The recorded memory's settings (``memory_settings()``).
        events: Where the recall events go again (a replay's bus).
        max_messages: Most messages sent, as the memory's context keeps them.
    """

    def __init__(
        self,
        engine_id: str = "",
        session_id: str = "ROOT",
        *,
        recalls: Iterable[dict[str, Any]],
        settings: dict[str, Any],
        events: EventSink | None = None,
        max_messages: int | None = 100,
    ) -> None:
        super().__init__(engine_id, session_id, max_messages=max_messages)
        self._recalls = deque(dict(recall) for recall in recalls)
        self._settings = dict(settings)
        self.events = events
        self._recall: Recall | None = None
        self._recalled_for: tuple[int, str] | None = None

    def memory_settings(self) -> dict[str, Any]:
        """The recorded memory's settings."""
        return dict(self._settings)

    async def retrieve(self) -> list[dict[str, Any]]:
        """The messages to send, with the recorded turn's recall in the system prompt."""
        messages = self.messages()
        key = last_question(self.chat_history)
        if key is None:
            return messages
        if key != self._recalled_for:
            self._recalled_for = key
            self._recall = await self._next()
        return with_recall(messages, self._recall)

    async def _next(self) -> Recall | None:
        """The next recorded recall (published again), or None when the log has no more."""
        if not self._recalls:
            return None
        recorded = self._recalls.popleft()
        fields = {name: recorded[name] for name in _FIELDS if name in recorded}
        turns = [_turn(turn) for turn in fields.get("recalled") or [] if isinstance(turn, dict)]
        events = self.events
        if events is not None and events.has_handlers(MemoryRecallEvent, self.session_id):
            await events.publish(MemoryRecallEvent(**fields, session_id=self.session_id))
        return Recall(query=str(fields.get("query") or ""), turns=turns)

    def clear(self) -> None:
        """Forget the conversation."""
        super().clear()
        self._recalled_for = None

    def rollback(self, checkpoint: int) -> None:
        """Drop the messages since ``checkpoint``."""
        super().rollback(checkpoint)
        self._recalled_for = None


def _turn(recorded: dict[str, Any]) -> RecalledTurn:
    return RecalledTurn(
        memory_id=int(recorded.get("memory_id") or 0),
        conversation_id=str(recorded.get("conversation_id") or ""),
        score=float(recorded.get("score") or 0.0),
        text=str(recorded.get("text") or ""),
        tokens=int(recorded.get("tokens") or 0),
    )
