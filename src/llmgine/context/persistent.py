"""A context manager whose conversation is kept in the conversations database.

:class:`SQLiteContextManager` is an :class:`InMemoryContextManager` (same
message shapes, same trimming) that writes each message to a
:class:`~llmgine.context.conversations.ConversationStore` as it is added, so
a later process can continue the conversation. An assistant message that
calls tools is written together with the results that answer it, in one
transaction: another process appending to the same conversation can never
come between a call and its result.
"""

from __future__ import annotations

import os
from typing import Any

from llmgine.context.conversations import ConversationStore, new_conversation_id
from llmgine.context.memory import InMemoryContextManager, _assistant_dict
from llmgine.models.response import LLMResponse

__all__ = ["SQLiteContextManager"]


class SQLiteContextManager(InMemoryContextManager):
    """A bounded chat history stored in SQLite: resumable, shared safely between processes.

    Args:
        engine_id: The engine it belongs to.
        session_id: The engine's session.
        store: The store, or the path of its file (default: the default file).
        conversation_id: Continue this conversation (an id or a unique prefix);
            None starts a new one (stored at its first message).
        max_messages: Most messages sent (the system prompt not counted).
        max_tokens: Token budget of the messages sent; None for no budget.
        metadata: JSON stored with the conversation (the CLI stores ``engine``, ``model``).

    Raises:
        ConversationNotFoundError: ``conversation_id`` names no stored conversation.
        ConversationStoreError: the file cannot be used (a subclass says why).
    """

    def __init__(
        self,
        engine_id: str = "",
        session_id: str = "ROOT",
        *,
        store: ConversationStore | str | os.PathLike[str] | None = None,
        conversation_id: str | None = None,
        max_messages: int | None = 100,
        max_tokens: int | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(engine_id, session_id, max_messages=max_messages, max_tokens=max_tokens)
        self._owns_store = not isinstance(store, ConversationStore)
        self.store = store if isinstance(store, ConversationStore) else ConversationStore(store)
        self.metadata = dict(metadata or {})
        #: Row id of each message of ``chat_history`` (None: not written yet).
        self._row_ids: list[int | None] = []
        self._pending: list[int] = []  # a tool-calling answer and its results so far
        self._open_calls: set[str] = set()
        self._stored = False
        #: The system prompt the continued conversation was last used with ("" for none;
        #: None when it has none recorded, or the conversation is new).
        self.stored_system_prompt: str | None = None
        self._new = conversation_id is None  # started here (not continued)
        if conversation_id is not None:
            info = self.store.get(conversation_id)
            self.conversation_id = info.id
            self.stored_system_prompt = info.system_prompt
            self._stored = True
            self.reload()
        else:
            self.conversation_id = new_conversation_id()

    # -- what is stored ------------------------------------------------------------

    @property
    def row_ids(self) -> list[int | None]:
        """The database id of each message of the history (None: not written yet)."""
        return list(self._row_ids)

    def reload(self) -> None:
        """Read the conversation again from the store (what other processes added included)."""
        self._pending, self._open_calls = [], set()
        stored = self.store.messages(self.conversation_id)
        self.chat_history = [entry.message for entry in stored]
        self._row_ids = [entry.id for entry in stored]

    def flush(self) -> None:
        """Write what is held back: a tool-calling answer whose results are not all in."""
        if self._pending:
            pending, self._pending, self._open_calls = self._pending, [], set()
            self._write(pending)

    def _write(self, indexes: list[int]) -> None:
        ids = self.store.append(
            self.conversation_id,
            [self.chat_history[i] for i in indexes],
            system_prompt=self.system_prompt or "",  # "": it has none (not "unknown")
        )
        for index, row_id in zip(indexes, ids, strict=True):
            self._row_ids[index] = row_id
        if not self._stored:
            self._stored = True
            if self.metadata:
                self.store.update(self.conversation_id, metadata=self.metadata)

    def _add(self, message: dict[str, Any]) -> None:
        self.chat_history.append(message)
        self._row_ids.append(None)
        index = len(self.chat_history) - 1
        if self._pending:
            call_id = message.get("tool_call_id")
            if message.get("role") == "tool" and call_id in self._open_calls:
                self._pending.append(index)
                self._open_calls.discard(str(call_id))
                if not self._open_calls:
                    self.flush()
                return
            self.flush()  # a block that gets no more results
        calls = message.get("tool_calls") or []
        if message.get("role") == "assistant" and calls:
            self._pending = [index]
            self._open_calls = {str(c.get("id")) for c in calls if isinstance(c, dict)}
            if not self._open_calls:
                self.flush()
            return
        try:
            self._write([index])
        except BaseException:  # not stored: not kept either (the next turn must not see it)
            del self.chat_history[index:]
            del self._row_ids[index:]
            raise

    # -- the context API -------------------------------------------------------------

    def store_string(self, string: str, role: str = "user") -> None:
        """Add a plain message (``role`` is ``"user"`` by default) and store it."""
        self._add({"role": role, "content": string})

    async def store_assistant_message(self, message: LLMResponse | dict[str, Any] | Any) -> None:
        """Add the model's answer and store it (with its tool results, when it calls tools)."""
        self._add(_assistant_dict(message))

    def store_tool_call_result(
        self, tool_call_id: str, name: str, content: str | list[dict[str, Any]]
    ) -> None:
        """Add the result of one tool call (its text, or content parts with images) and store it."""
        self._add({"role": "tool", "tool_call_id": tool_call_id, "name": name, "content": content})

    def set_system_prompt(self, prompt: str | None) -> None:
        """Set the system prompt (recorded with the conversation once it is stored)."""
        super().set_system_prompt(prompt)
        if self._stored:  # "" records that it has none (None would keep the old one)
            self.store.update(self.conversation_id, system_prompt=self.system_prompt or "")

    def checkpoint(self) -> int:
        """A mark to roll back to; first reads what other processes added to the conversation."""
        self.flush()
        if self._stored:
            written = [row_id for row_id in self._row_ids if row_id is not None]
            if self.store.stamp(self.conversation_id) != (len(written), max(written, default=0)):
                self.reload()
        return len(self.chat_history)

    def rollback(self, checkpoint: int) -> None:
        """Drop (and delete from the store) every message added since ``checkpoint``."""
        self._pending = [index for index in self._pending if index < checkpoint]
        if not self._pending:
            self._open_calls = set()
        written = [row_id for row_id in self._row_ids[checkpoint:] if row_id is not None]
        del self.chat_history[checkpoint:]
        del self._row_ids[checkpoint:]
        self.store.delete_messages(written)
        if self._new and self._stored and not self.chat_history:
            # The first turn of a conversation started here failed: no empty one is left
            # behind (unless another process has written to it meanwhile).
            if self.store.delete_if_empty(self.conversation_id):
                self._stored = False

    def clear(self) -> None:
        """Forget the conversation: its messages are deleted from the store too."""
        self._pending, self._open_calls = [], set()
        self.chat_history.clear()
        self._row_ids.clear()
        if self._stored:
            self.store.clear(self.conversation_id)

    def new_conversation(self) -> str:
        """Start a new conversation (the current one stays stored); its id."""
        self.flush()
        self._pending, self._open_calls = [], set()
        self.chat_history, self._row_ids = [], []
        self.conversation_id, self._stored, self._new = new_conversation_id(), False, True
        return self.conversation_id

    def close(self) -> None:
        """Write what is held back and close the store if this context opened it."""
        try:
            self.flush()
        finally:
            if self._owns_store:
                self.store.close()
