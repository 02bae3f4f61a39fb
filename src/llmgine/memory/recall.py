"""Memory: past turns embedded, and the most relevant ones recalled under a token budget.

A *turn* is a user message and the final answer to it (tool calls in between
are left out of the memory: their results can be huge and the answer says
what came of them). :meth:`Memory.index` embeds the turns of a conversation
not embedded yet; :meth:`Memory.recall` embeds a query and returns the most
similar turns that fit the budget. Vectors live in the conversations file
(table ``memories``), searched by a :mod:`~llmgine.memory.vectors` backend.
"""

from __future__ import annotations

import time
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from typing import Any

from llmgine.context.conversations import ConversationStore, StoredMessage
from llmgine.context.db import store_errors, write_transaction
from llmgine.context.memory import estimate_tokens
from llmgine.errors import ConfigurationError
from llmgine.memory.backends import open_backend
from llmgine.memory.vectors import VectorBackend, normalised, pack
from llmgine.models.embedder import Embedder
from llmgine.models.embedders import get_embedder
from llmgine.models.response import content_text

__all__ = ["Memory", "Recall", "RecalledTurn", "Turn", "turns_of"]

RECALL_HEADER = (
    "Earlier turns that may be relevant, recalled from memory (they are not part of the "
    "recent conversation; use them only where they help):"
)


@dataclass(frozen=True)
class Turn:
    """A user message and its final answer, as stored."""

    first_message_id: int
    last_message_id: int
    text: str


@dataclass(frozen=True)
class RecalledTurn:
    """A turn brought back from memory."""

    memory_id: int
    conversation_id: str
    score: float
    text: str
    tokens: int

    def to_dict(self) -> dict[str, Any]:
        """The turn as event data."""
        return {
            "memory_id": self.memory_id,
            "conversation_id": self.conversation_id,
            "score": round(self.score, 4),
            "tokens": self.tokens,
            "text": self.text,
        }


@dataclass
class Recall:
    """What one recall found."""

    query: str
    turns: list[RecalledTurn] = field(default_factory=list)
    candidates: int = 0
    skipped: int = 0
    duration_s: float = 0.0
    error: str | None = None

    @property
    def tokens(self) -> int:
        """Estimated tokens of the recalled turns."""
        return sum(turn.tokens for turn in self.turns)


def turns_of(messages: Sequence[StoredMessage], max_chars: int = 2000) -> list[Turn]:
    """The complete turns of a conversation: each user message with its final answer."""
    turns: list[Turn] = []
    start: StoredMessage | None = None
    answer: StoredMessage | None = None
    for entry in [*messages, None]:
        role = entry.message.get("role") if entry is not None else "user"
        if role == "user":
            if start is not None and answer is not None:
                question = content_text(start.message.get("content")).strip()
                reply = content_text(answer.message.get("content")).strip()
                text = f"User: {question}\nAssistant: {reply}"
                if len(text) > max_chars:
                    text = text[: max_chars - 1] + "…"
                turns.append(Turn(start.id, answer.id, text))
            start, answer = entry, None
        elif entry is not None and role == "assistant" and start is not None:
            final = not entry.message.get("tool_calls")
            answer = entry if final and content_text(entry.message.get("content")) else answer
    return turns


class Memory:
    """Embeds the turns of stored conversations and recalls the most relevant ones.

    Args:
        store: The conversations store (its file holds the vectors too).
        embedder: An :class:`~llmgine.models.embedder.Embedder` or its name
            (default: see :func:`~llmgine.models.embedders.get_embedder`).
        top_k: Most turns recalled.
        token_budget: Most estimated tokens recalled (turns are added best
            first while they fit).
        min_score: Least cosine similarity of a recalled turn.
        scope: ``"all"`` conversations of the file, or only the ``"conversation"`` asking.
        backend: The vector search: ``"auto"``, ``"sqlite-vec"``, ``"numpy"``, ``"python"``.
        max_turn_chars: Turns are cut to this many characters before embedding.

    Raises:
        ConfigurationError: a setting out of range.
    """

    def __init__(
        self,
        store: ConversationStore,
        embedder: Embedder | str | None = None,
        *,
        top_k: int = 3,
        token_budget: int = 600,
        min_score: float = 0.2,
        scope: str = "all",
        backend: str = "auto",
        max_turn_chars: int = 2000,
    ) -> None:
        if scope not in ("all", "conversation"):
            raise ConfigurationError(f"memory scope must be 'all' or 'conversation', not {scope!r}")
        if top_k < 1 or token_budget < 1:
            raise ConfigurationError("memory needs top_k >= 1 and token_budget >= 1")
        self.store = store
        self.embedder = get_embedder(embedder)
        self.top_k = top_k
        self.token_budget = token_budget
        self.min_score = min_score
        self.scope = scope
        self.backend_name = backend
        self.max_turn_chars = max_turn_chars
        self._backend: VectorBackend | None = None

    @property
    def backend(self) -> str:
        """The vector search in use (``"auto"`` until the first search picks one)."""
        return self._backend.name if self._backend is not None else self.backend_name

    def _search(self, dimensions: int) -> VectorBackend:
        backend = self._backend
        if backend is None or backend.dimensions != dimensions:
            backend = open_backend(
                self.store.connection, self.embedder.name, dimensions, self.backend_name
            )
            self._backend = backend
        return backend

    # -- indexing ---------------------------------------------------------------------

    def pending(self, conversation_id: str) -> list[Turn]:
        """The complete turns of a conversation that are not embedded yet."""
        turns = turns_of(self.store.messages(conversation_id), self.max_turn_chars)
        with store_errors(self.store.path, self.store.busy_timeout):
            rows = self.store.connection.execute(
                "SELECT last_message_id FROM memories WHERE embedder = ? AND conversation_id = ?",
                (self.embedder.name, conversation_id),
            ).fetchall()
        done = {row[0] for row in rows}
        return [turn for turn in turns if turn.last_message_id not in done]

    async def index(self, conversation_id: str) -> int:
        """Embed the turns of a conversation not embedded yet; how many were added.

        Raises:
            ProviderError: the embedder's call failed (nothing is stored then).
        """
        turns = self.pending(conversation_id)
        if not turns:
            return 0
        vectors = await self.embedder.embed([turn.text for turn in turns])
        now = time.time()
        rows = [
            (
                conversation_id,
                turn.first_message_id,
                turn.last_message_id,
                self.embedder.name,
                len(vector),
                pack(normalised(vector)),
                turn.text,
                estimate_tokens({"content": turn.text}),
                now,
            )
            for turn, vector in zip(turns, vectors, strict=True)
        ]
        connection = self.store.connection
        with store_errors(self.store.path, self.store.busy_timeout), write_transaction(connection):
            # A turn deleted meanwhile (a rolled-back turn, /clear) is not stored.
            cursor = connection.executemany(
                "INSERT OR IGNORE INTO memories (conversation_id, first_message_id, "
                "last_message_id, embedder, dimensions, vector, text, tokens, created_at) "
                "SELECT ?, ?, ?, ?, ?, ?, ?, ?, ? WHERE EXISTS "
                "(SELECT 1 FROM messages WHERE id = ?3) AND EXISTS "
                "(SELECT 1 FROM messages WHERE id = ?2)",
                rows,
            )
        return max(cursor.rowcount, 0)

    async def index_all(self) -> int:
        """Embed every stored turn not embedded yet, in every conversation; how many."""
        added = 0
        for info in self.store.list_conversations():
            added += await self.index(info.id)
        return added

    # -- recall -------------------------------------------------------------------------

    def _memory_ids_of(self, message_ids: Collection[int]) -> set[int]:
        ids = [int(i) for i in message_ids]
        found: set[int] = set()
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            marks = ",".join("?" * len(chunk))
            rows = self.store.connection.execute(
                f"SELECT id FROM memories WHERE embedder = ? AND (last_message_id IN ({marks}) "
                f"OR first_message_id IN ({marks}))",
                (self.embedder.name, *chunk, *chunk),
            ).fetchall()
            found.update(row[0] for row in rows)
        return found

    async def recall(
        self,
        query: str,
        *,
        conversation_id: str | None = None,
        exclude_message_ids: Collection[int] = (),
    ) -> Recall:
        """The stored turns most similar to ``query`` that fit the token budget.

        Args:
            query: What to look for (the user's message).
            conversation_id: The conversation asking (the only one searched
                with ``scope="conversation"``).
            exclude_message_ids: Turns with these messages are left out (those
                already in the context).

        Raises:
            ProviderError: the embedder's call failed.
            ConversationStoreError: the file could not be read.
        """
        started = time.perf_counter()
        found = Recall(query=query)
        if not query.strip():
            return found
        vector = normalised(await self.embedder.embed_one(query))
        if not any(vector):
            found.duration_s = time.perf_counter() - started
            return found
        with store_errors(self.store.path, self.store.busy_timeout):
            search = self._search(len(vector))
            exclude = self._memory_ids_of(exclude_message_ids)
            only = conversation_id if self.scope == "conversation" else None
            hits = search.search(vector, self.top_k * 4, conversation_id=only, exclude=exclude)
            found.candidates = search.searched()
            rows = self._rows([memory_id for memory_id, _ in hits])
        budget = self.token_budget
        for memory_id, score in hits:
            row = rows.get(memory_id)
            if row is None or score < self.min_score:
                continue
            owner, text, tokens = row
            if tokens > budget:
                found.skipped += 1
                continue
            if len(found.turns) < self.top_k:
                found.turns.append(RecalledTurn(memory_id, owner, score, text, tokens))
                budget -= tokens
        found.duration_s = time.perf_counter() - started
        return found

    def _rows(self, memory_ids: list[int]) -> dict[int, tuple[str, str, int]]:
        if not memory_ids:
            return {}
        marks = ",".join("?" * len(memory_ids))
        rows = self.store.connection.execute(
            f"SELECT id, conversation_id, text, tokens FROM memories WHERE id IN ({marks})",
            memory_ids,
        ).fetchall()
        return {row[0]: (row[1], row[2], row[3]) for row in rows}

    @staticmethod
    def block(recall: Recall) -> str:
        """The recalled turns as the text added to the system prompt."""
        parts = [RECALL_HEADER]
        for turn in recall.turns:
            parts.append(f'<memory conversation="{turn.conversation_id}">\n{turn.text}\n</memory>')
        return "\n".join(parts)
