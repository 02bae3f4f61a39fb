"""The memory layer's event: what was recalled into a turn's context."""

from __future__ import annotations

from dataclasses import field
from typing import Any

from llmgine.messages.events import Event

__all__ = ["MemoryRecallEvent"]


class MemoryRecallEvent(Event, kw_only=True):
    """Earlier turns were looked up for a turn (and some brought into its context).

    Published once per turn, before its first model call, when a handler or
    an observer listens.

    Attributes:
        conversation_id: The conversation of the turn.
        query: The user message the turns were looked up for.
        embedder: The embedding space (``"openai:text-embedding-3-small"``, ``"hash:256"``).
        backend: The vector search used (``"sqlite-vec"``, ``"numpy"``, ``"python"``).
        recalled: The turns brought in, best first: ``memory_id``,
            ``conversation_id``, ``score`` (cosine similarity), ``tokens``, ``text``.
        tokens: Estimated tokens of what was brought in (at most the budget).
        token_budget: The budget.
        candidates: Turns searched.
        skipped: Relevant turns left out because they did not fit the budget.
        duration_s: Seconds the recall took (the query's embedding included).
        error: Why nothing could be recalled (the turn goes on without memory).
    """

    conversation_id: str = ""
    query: str = ""
    embedder: str = ""
    backend: str = ""
    recalled: list[dict[str, Any]] = field(default_factory=list)
    tokens: int = 0
    token_budget: int = 0
    candidates: int = 0
    skipped: int = 0
    duration_s: float = 0.0
    error: str | None = None
