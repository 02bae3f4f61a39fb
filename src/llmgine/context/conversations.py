"""Stored conversations: :class:`ConversationStore` over the conversations database.

Each message is stored whole, as the JSON of its OpenAI-format dict (tool
calls, tool results, thinking blocks and all), and read back equal to what
was stored. Writes are short transactions, so two processes can append to
one file (even to one conversation) at the same time.
"""

from __future__ import annotations

import json
import os
import secrets
import sqlite3
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from llmgine.context.db import connect, default_db_path, store_errors, write_transaction
from llmgine.errors import ConversationNotFoundError, SerializationError
from llmgine.observability.redaction import default_redactor

__all__ = ["ConversationInfo", "ConversationStore", "StoredMessage", "new_conversation_id"]

_TITLE_LIMIT = 80


def new_conversation_id() -> str:
    """A new conversation id: 16 random hex digits (short enough to type, or type the start of)."""
    return secrets.token_hex(8)


@dataclass(frozen=True)
class ConversationInfo:
    """What is known about one stored conversation.

    Attributes:
        id: Its id.
        title: The start of its first user message.
        created_at: When it was created (Unix time).
        updated_at: When a message was last added (Unix time).
        message_count: Messages stored.
        system_prompt: The system prompt it was last used with.
        metadata: Free JSON (the CLI stores ``engine`` and ``model``).
    """

    id: str
    title: str
    created_at: float
    updated_at: float
    message_count: int
    system_prompt: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """The info as JSON-ready data."""
        return {
            "id": self.id,
            "title": self.title,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
            "message_count": self.message_count,
            "system_prompt": self.system_prompt,
            "metadata": dict(self.metadata),
        }


@dataclass(frozen=True)
class StoredMessage:
    """A message as stored: its row id and the message dict."""

    id: int
    message: dict[str, Any]


def _encode(message: dict[str, Any]) -> str:
    try:
        return json.dumps(message, ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise SerializationError(
            f"a {message.get('role', '?')} message cannot be stored as JSON ({exc}); "
            "messages must hold only JSON values"
        ) from exc


def _title(message: dict[str, Any]) -> str:
    content = message.get("content")
    text = content if isinstance(content, str) else ""
    # Masked whole, then cut: a key cut in two would no longer look like one.
    flat = " ".join(default_redactor().redact_text(text).split())
    return flat if len(flat) <= _TITLE_LIMIT else flat[: _TITLE_LIMIT - 1] + "…"


class ConversationStore:
    """The conversations of one database file.

    A store is used by one thread at a time (an event loop's, as engines do);
    it may be opened in another thread than the one that then uses it. Other
    processes (another CLI on the same file) are safe at any time.

    Args:
        path: The file (default :func:`~llmgine.context.db.default_db_path`).
        busy_timeout: Seconds to wait for another process's write lock.

    Raises:
        ConversationStoreError: the file cannot be used (a subclass says why).
    """

    def __init__(
        self, path: str | os.PathLike[str] | None = None, *, busy_timeout: float = 5.0
    ) -> None:
        self.path = Path(path).expanduser() if path is not None else default_db_path()
        self.busy_timeout = busy_timeout
        self.connection: sqlite3.Connection = connect(self.path, busy_timeout=busy_timeout)

    def close(self) -> None:
        """Close the connection (the store cannot be used afterwards)."""
        self.connection.close()

    def __enter__(self) -> ConversationStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- conversations ---------------------------------------------------------------

    def create(
        self,
        conversation_id: str | None = None,
        *,
        system_prompt: str | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> str:
        """Create an empty conversation and return its id (a new one unless given)."""
        new = conversation_id or new_conversation_id()
        now = time.time()
        with store_errors(self.path, self.busy_timeout), write_transaction(self.connection):
            self.connection.execute(
                "INSERT OR IGNORE INTO conversations (id, system_prompt, metadata, created_at, "
                "updated_at) VALUES (?, ?, ?, ?, ?)",
                (new, system_prompt, json.dumps(metadata or {}), now, now),
            )
        return new

    def exists(self, conversation_id: str) -> bool:
        """Whether a conversation with exactly this id is stored."""
        with store_errors(self.path, self.busy_timeout):
            row = self.connection.execute(
                "SELECT 1 FROM conversations WHERE id = ?", (conversation_id,)
            ).fetchone()
        return row is not None

    def resolve(self, id_or_prefix: str) -> str:
        """The id of the one conversation whose id is or starts with ``id_or_prefix``.

        Raises:
            ConversationNotFoundError: none matches, or several do.
        """
        pattern = id_or_prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        with store_errors(self.path, self.busy_timeout):
            rows = self.connection.execute(
                "SELECT id FROM conversations WHERE id = ? OR id LIKE ? ESCAPE '\\' LIMIT 3",
                (id_or_prefix, pattern + "%"),
            ).fetchall()
        ids = [row[0] for row in rows]
        if id_or_prefix in ids:
            return id_or_prefix
        if len(ids) == 1 and id_or_prefix:
            return str(ids[0])
        what = "no conversation" if not ids else "several conversations"
        raise ConversationNotFoundError(
            f"{what} in {self.path} match {id_or_prefix!r}; see `llmgine conversations list`",
            self.path,
        )

    def get(self, id_or_prefix: str) -> ConversationInfo:
        """The conversation ``id_or_prefix`` names.

        Raises:
            ConversationNotFoundError: none matches, or several do.
        """
        conversation_id = self.resolve(id_or_prefix)
        infos = self._infos("WHERE c.id = ?", (conversation_id,))
        if not infos:  # deleted by another process in between
            raise ConversationNotFoundError(
                f"conversation {conversation_id} was just deleted", self.path
            )
        return infos[0]

    def list_conversations(self, limit: int | None = None) -> list[ConversationInfo]:
        """Conversations with at least one message, the most recently updated first."""
        where = (
            "WHERE EXISTS (SELECT 1 FROM messages m WHERE m.conversation_id = c.id) "
            "ORDER BY c.updated_at DESC, c.rowid DESC"
        )
        if limit is not None:
            where += f" LIMIT {int(limit)}"
        return self._infos(where, ())

    def latest(self) -> ConversationInfo | None:
        """The most recently updated conversation with messages, or None."""
        found = self.list_conversations(limit=1)
        return found[0] if found else None

    def _infos(self, where: str, params: tuple[Any, ...]) -> list[ConversationInfo]:
        query = (
            "SELECT c.id, c.title, c.created_at, c.updated_at, c.system_prompt, c.metadata, "
            "(SELECT count(*) FROM messages m WHERE m.conversation_id = c.id) "
            f"FROM conversations c {where}"
        )
        with store_errors(self.path, self.busy_timeout):
            rows = self.connection.execute(query, params).fetchall()
        return [
            ConversationInfo(
                id=row[0],
                title=row[1],
                created_at=row[2],
                updated_at=row[3],
                system_prompt=row[4],
                metadata=json.loads(row[5] or "{}"),
                message_count=row[6],
            )
            for row in rows
        ]

    def update(
        self,
        conversation_id: str,
        *,
        system_prompt: str | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        """Record the system prompt and/or merge ``metadata`` into the conversation's."""
        with store_errors(self.path, self.busy_timeout), write_transaction(self.connection):
            row = self.connection.execute(
                "SELECT metadata FROM conversations WHERE id = ?", (conversation_id,)
            ).fetchone()
            if row is None:
                return
            merged = {**json.loads(row[0] or "{}"), **(metadata or {})}
            self.connection.execute(
                "UPDATE conversations SET system_prompt = coalesce(?, system_prompt), "
                "metadata = ? WHERE id = ?",
                (system_prompt, json.dumps(merged), conversation_id),
            )

    def delete(self, id_or_prefix: str) -> str:
        """Delete a conversation, its messages and its memories; its id.

        Raises:
            ConversationNotFoundError: none matches, or several do.
        """
        conversation_id = self.resolve(id_or_prefix)
        with store_errors(self.path, self.busy_timeout), write_transaction(self.connection):
            self.connection.execute("DELETE FROM conversations WHERE id = ?", (conversation_id,))
        return conversation_id

    def delete_if_empty(self, conversation_id: str) -> bool:
        """Delete the conversation ``conversation_id`` if it holds no message; True if it did."""
        with store_errors(self.path, self.busy_timeout), write_transaction(self.connection):
            cursor = self.connection.execute(
                "DELETE FROM conversations WHERE id = ? AND NOT EXISTS "
                "(SELECT 1 FROM messages WHERE conversation_id = ?)",
                (conversation_id, conversation_id),
            )
        return cursor.rowcount > 0

    # -- messages ----------------------------------------------------------------------

    def messages(self, conversation_id: str) -> list[StoredMessage]:
        """The messages of a conversation, oldest first."""
        with store_errors(self.path, self.busy_timeout):
            rows = self.connection.execute(
                "SELECT id, body FROM messages WHERE conversation_id = ? ORDER BY id",
                (conversation_id,),
            ).fetchall()
        return [StoredMessage(row[0], json.loads(row[1])) for row in rows]

    def stamp(self, conversation_id: str) -> tuple[int, int]:
        """How many messages a conversation has and its newest row id (0, 0 when none).

        Cheap: a context compares it to what it holds to see whether another
        process changed the conversation.
        """
        with store_errors(self.path, self.busy_timeout):
            row = self.connection.execute(
                "SELECT count(*), coalesce(max(id), 0) FROM messages WHERE conversation_id = ?",
                (conversation_id,),
            ).fetchone()
        return int(row[0]), int(row[1])

    def append(
        self,
        conversation_id: str,
        messages: Sequence[dict[str, Any]],
        *,
        system_prompt: str | None = None,
    ) -> list[int]:
        """Add ``messages`` (one transaction: all or none) and return their row ids.

        The conversation is created if it does not exist; its title is taken
        from its first user message.

        Raises:
            SerializationError: a message holds something that is not JSON.
        """
        bodies = [(str(message.get("role", "")), _encode(message)) for message in messages]
        title = next((_title(m) for m in messages if m.get("role") == "user"), "")
        now = time.time()
        ids: list[int] = []
        with store_errors(self.path, self.busy_timeout), write_transaction(self.connection):
            self.connection.execute(
                "INSERT INTO conversations (id, title, system_prompt, created_at, updated_at) "
                "VALUES (?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET updated_at = "
                "excluded.updated_at, title = CASE WHEN title = '' THEN excluded.title ELSE "
                "title END, system_prompt = coalesce(excluded.system_prompt, system_prompt)",
                (conversation_id, title, system_prompt, now, now),
            )
            for role, body in bodies:
                cursor = self.connection.execute(
                    "INSERT INTO messages (conversation_id, role, body, created_at) "
                    "VALUES (?, ?, ?, ?)",
                    (conversation_id, role, body, now),
                )
                ids.append(int(cursor.lastrowid or 0))
        return ids

    def delete_messages(self, ids: Sequence[int]) -> None:
        """Delete messages by row id (and the memories of their turns)."""
        if not ids:
            return
        with store_errors(self.path, self.busy_timeout), write_transaction(self.connection):
            self.connection.executemany(
                "DELETE FROM messages WHERE id = ?", [(int(i),) for i in ids]
            )

    def clear(self, conversation_id: str) -> None:
        """Delete every message of a conversation (it stays, its title taken from the next)."""
        with store_errors(self.path, self.busy_timeout), write_transaction(self.connection):
            self.connection.execute(
                "DELETE FROM messages WHERE conversation_id = ?", (conversation_id,)
            )
            self.connection.execute(
                "UPDATE conversations SET title = '' WHERE id = ?", (conversation_id,)
            )
