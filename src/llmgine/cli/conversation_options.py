"""The conversation options of ``llmgine chat``: ``--continue``, ``--conversation``, ``--db``.

Chats are stored by default (in :func:`~llmgine.context.default_db_path`, or
``--db PATH``), so the next ``llmgine chat --continue`` picks up where the last
one stopped; ``--no-save`` keeps a chat in memory only. ``--memory`` recalls
relevant turns of earlier conversations (embedded with ``--embedder``).
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from llmgine.context.conversations import ConversationStore
from llmgine.errors import ConfigurationError
from llmgine.memory.recall import Memory

__all__ = [
    "CLIConversation",
    "add_conversation_options",
    "conversation_flags",
    "open_conversation",
]

_FLAGS = (
    ("continue_latest", "--continue"),
    ("conversation", "--conversation"),
    ("no_save", "--no-save"),
    ("db", "--db"),
    ("memory", "--memory"),
    ("embedder", "--embedder"),
)


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
    group.add_argument(
        "--memory",
        action="store_true",
        help="recall relevant turns of earlier conversations into each turn",
    )
    group.add_argument(
        "--embedder",
        metavar="NAME",
        help="the embeddings of --memory: provider:model or hash (default: "
        "openai:text-embedding-3-small when OPENAI_API_KEY is set, else hash, offline)",
    )


def conversation_flags(args: argparse.Namespace) -> list[str]:
    """The conversation options given on the command line (refused where they do not apply)."""
    return [flag for name, flag in _FLAGS if getattr(args, name, None)]


@dataclass
class CLIConversation:
    """Where a command-line chat keeps its conversation, and which one it continues.

    Attributes:
        store: The store (None with ``--no-save``).
        conversation_id: The conversation continued (None: a new one).
        nothing_to_continue: ``--continue`` was given but the store was empty.
        memory: The memory of ``--memory``.
    """

    store: ConversationStore | None
    conversation_id: str | None = None
    nothing_to_continue: bool = False
    memory: Memory | None = None

    def engine_kwargs(self) -> dict[str, Any]:
        """What the engine is built with: ``db=``, ``conversation_id=``, ``memory=``."""
        if self.store is None:
            return {}
        kwargs: dict[str, Any] = {"db": self.store, "conversation_id": self.conversation_id}
        if self.memory is not None:
            kwargs["memory"] = self.memory
        return kwargs

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
    wants_memory = getattr(args, "memory", False)
    if getattr(args, "no_save", False) or not hasattr(args, "db"):
        if wants_memory:
            raise ConfigurationError("--memory recalls stored conversations: drop --no-save")
        return CLIConversation(None)
    if args.db and _is_folder(args.db):
        raise ConfigurationError(f"--db {args.db} is a folder: give the path of a file")
    store = ConversationStore(args.db)
    try:
        memory = Memory(store, args.embedder) if wants_memory else None
        if args.conversation is not None:
            if not args.conversation.strip():
                raise ConfigurationError("--conversation needs an id (or the start of one)")
            return CLIConversation(store, store.resolve(args.conversation), memory=memory)
        if args.continue_latest:
            latest = store.latest()
            if latest is None:
                return CLIConversation(store, nothing_to_continue=True, memory=memory)
            return CLIConversation(store, latest.id, memory=memory)
    except BaseException:
        store.close()
        raise
    return CLIConversation(store, memory=memory)


def _is_folder(path: str) -> bool:
    return Path(path).expanduser().is_dir()
