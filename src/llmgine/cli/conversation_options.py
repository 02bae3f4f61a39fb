"""The conversation options of ``llmgine chat``: ``--continue``, ``--conversation``, ``--db``.

Chats are stored by default (in :func:`~llmgine.context.default_db_path`, or
``--db PATH``), so the next ``llmgine chat --continue`` picks up where the last
one stopped; ``--no-save`` keeps a chat in memory only.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from llmgine.context.conversations import ConversationStore
from llmgine.errors import ConfigurationError

__all__ = ["CLIConversation", "add_conversation_options", "open_conversation"]


def add_conversation_options(parser: argparse.ArgumentParser) -> None:
    """Add ``--continue/-c``, ``--conversation ID``, ``--db PATH`` and ``--no-save``."""
    group = parser.add_argument_group("conversations")
    which = group.add_mutually_exclusive_group()
    which.add_argument(
        "-c",
        "--continue",
        dest="continue_latest",
        action="store_true",
        help="continue the most recent stored conversation",
    )
    which.add_argument(
        "--conversation", metavar="ID", help="continue this conversation (an id or its start)"
    )
    which.add_argument(
        "--no-save", action="store_true", help="keep this chat in memory only (not stored)"
    )
    group.add_argument(
        "--db",
        metavar="PATH",
        help="the conversations file (default: $XDG_DATA_HOME/llmgine/conversations.db)",
    )


@dataclass
class CLIConversation:
    """Where a command-line chat keeps its conversation, and which one it continues.

    Attributes:
        store: The store (None with ``--no-save``).
        conversation_id: The conversation continued (None: a new one).
        nothing_to_continue: ``--continue`` was given but the store was empty.
    """

    store: ConversationStore | None
    conversation_id: str | None = None
    nothing_to_continue: bool = False

    def engine_kwargs(self) -> dict[str, Any]:
        """What the engine is built with: ``db=`` and ``conversation_id=``."""
        if self.store is None:
            return {}
        return {"db": self.store, "conversation_id": self.conversation_id}

    def describe(self, engine: Any) -> str | None:
        """A line saying which conversation the chat is in, for the interactive CLI."""
        if self.store is None:
            return None
        current = getattr(engine, "conversation_id", None)
        if self.conversation_id is not None:
            count = len(getattr(engine.context, "chat_history", []))
            return f"continuing conversation {current} ({count} messages) from {self.store.path}"
        start = f"nothing to continue in {self.store.path}: " if self.nothing_to_continue else ""
        return (
            f"{start}new conversation {current}, stored in {self.store.path} "
            "(continue it later with: llmgine chat --continue)"
        )


def open_conversation(args: argparse.Namespace) -> CLIConversation:
    """The store and conversation the options ask for.

    Raises:
        ConversationStoreError: the file cannot be used, or ``--conversation``
            names no stored conversation.
        ConfigurationError: ``--db`` names a folder.
    """
    if getattr(args, "no_save", False) or not hasattr(args, "db"):
        return CLIConversation(None)
    if args.db and _is_folder(args.db):
        raise ConfigurationError(f"--db {args.db} is a folder: give the path of a file")
    store = ConversationStore(args.db)
    try:
        if args.conversation:
            return CLIConversation(store, store.resolve(args.conversation))
        if args.continue_latest:
            latest = store.latest()
            if latest is None:
                return CLIConversation(store, nothing_to_continue=True)
            return CLIConversation(store, latest.id)
    except BaseException:
        store.close()
        raise
    return CLIConversation(store)


def _is_folder(path: str) -> bool:
    return Path(path).expanduser().is_dir()
