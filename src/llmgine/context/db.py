"""The conversations database: one SQLite file, its versioned schema, its errors.

The file lives at :func:`default_db_path` (``$LLMGINE_CONVERSATIONS_DB``, else
``$XDG_DATA_HOME/llmgine/conversations.db``, else
``~/.local/share/llmgine/conversations.db``; ``%LOCALAPPDATA%`` on Windows)
unless a path is given. It is opened in WAL mode with a busy timeout, so
several processes can read and write it at once: every write is one short
``BEGIN IMMEDIATE`` transaction.

The schema is versioned with ``PRAGMA user_version`` and upgraded by
:data:`MIGRATIONS`, in order, each in its own transaction. A file that is not
an SQLite database, belongs to another application, or has a newer schema
than this LLMgine knows raises a :class:`~llmgine.errors.ConversationStoreError`
subclass and is never written to.
"""

from __future__ import annotations

import os
import sqlite3
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from llmgine.errors import (
    ConfigurationError,
    ConversationStoreError,
    CorruptStoreError,
    NewerSchemaError,
    StoreBusyError,
)

__all__ = [
    "APPLICATION_ID",
    "MIGRATIONS",
    "SCHEMA_VERSION",
    "connect",
    "default_db_path",
    "store_errors",
    "write_transaction",
]

#: ``PRAGMA application_id`` of LLMgine's files ("LLMg"): another program's database is refused.
APPLICATION_ID = 0x4C4C4D67

#: Each migration brings the schema from version ``n`` to ``n + 1`` (index ``n``).
MIGRATIONS: tuple[str, ...] = (
    # 1: conversations and their messages, each message stored whole as JSON.
    """
    CREATE TABLE conversations (
        id TEXT PRIMARY KEY,
        title TEXT NOT NULL DEFAULT '',
        system_prompt TEXT,
        metadata TEXT NOT NULL DEFAULT '{}',
        created_at REAL NOT NULL,
        updated_at REAL NOT NULL
    );
    CREATE INDEX conversations_by_update ON conversations (updated_at);
    CREATE TABLE messages (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        conversation_id TEXT NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
        role TEXT NOT NULL,
        body TEXT NOT NULL,
        created_at REAL NOT NULL
    );
    CREATE INDEX messages_by_conversation ON messages (conversation_id, id);
    """,
    # 2: memory: one row per embedded turn (user message to final answer).
    """
    CREATE TABLE memories (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        conversation_id TEXT NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
        first_message_id INTEGER NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
        last_message_id INTEGER NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
        embedder TEXT NOT NULL,
        dimensions INTEGER NOT NULL,
        vector BLOB NOT NULL,
        text TEXT NOT NULL,
        tokens INTEGER NOT NULL,
        created_at REAL NOT NULL
    );
    CREATE UNIQUE INDEX memories_by_turn ON memories (embedder, last_message_id);
    CREATE INDEX memories_by_embedder ON memories (embedder, dimensions, id);
    CREATE INDEX memories_by_first_message ON memories (first_message_id);
    CREATE INDEX memories_by_last_message ON memories (last_message_id);
    """,
)

#: The schema version this LLMgine writes.
SCHEMA_VERSION = len(MIGRATIONS)


def default_db_path() -> Path:
    """Where conversations are kept when no path is given.

    ``$LLMGINE_CONVERSATIONS_DB`` if set; else ``conversations.db`` in
    ``$XDG_DATA_HOME/llmgine`` (``~/.local/share/llmgine`` when unset;
    ``%LOCALAPPDATA%/llmgine`` on Windows).
    """
    explicit = os.environ.get("LLMGINE_CONVERSATIONS_DB")
    if explicit:
        return Path(explicit).expanduser()
    if sys.platform == "win32" and os.environ.get("LOCALAPPDATA"):
        base = Path(os.environ["LOCALAPPDATA"])
    else:
        xdg = os.environ.get("XDG_DATA_HOME")
        base = Path(xdg) if xdg else Path.home() / ".local" / "share"
    return base / "llmgine" / "conversations.db"


def _translate(exc: sqlite3.Error, path: Path, busy_timeout: float) -> ConversationStoreError:
    text = str(exc)
    if "locked" in text or "busy" in text:
        return StoreBusyError(
            f"{path} stayed locked by another process for more than {busy_timeout:g} s; "
            "try again, or use another file with --db",
            path,
        )
    if isinstance(exc, sqlite3.DatabaseError) and (
        "not a database" in text or "malformed" in text or "corrupt" in text
    ):
        return CorruptStoreError(
            f"{path} is damaged or is not an SQLite database ({text}); it was left as it is: "
            "move it away to start afresh, or pass another file with --db",
            path,
        )
    return ConversationStoreError(f"{path}: {text}", path)


@contextmanager
def store_errors(path: Path, busy_timeout: float = 5.0) -> Iterator[None]:
    """Turn SQLite's exceptions inside the block into :class:`ConversationStoreError` ones."""
    try:
        yield
    except sqlite3.Error as exc:
        raise _translate(exc, path, busy_timeout) from exc


@contextmanager
def write_transaction(connection: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """One ``BEGIN IMMEDIATE`` transaction: committed at the end, rolled back on an error.

    IMMEDIATE takes the write lock at once (waiting up to the busy timeout),
    so two writers never interleave inside one transaction.
    """
    connection.execute("BEGIN IMMEDIATE")
    try:
        yield connection
    except BaseException:
        connection.rollback()
        raise
    connection.commit()


def _check_owner(connection: sqlite3.Connection, path: Path) -> int:
    """The file's schema version, after checking it is ours and not newer."""
    version = int(connection.execute("PRAGMA user_version").fetchone()[0])
    owner = int(connection.execute("PRAGMA application_id").fetchone()[0])
    tables = connection.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
    # Not ours: another program's id, or no id but tables or a schema version of its own.
    if owner not in (0, APPLICATION_ID) or (owner == 0 and (tables or version)):
        raise CorruptStoreError(
            f"{path} is an SQLite database of another program, not LLMgine's conversations; "
            "it was left as it is: pass another file with --db",
            path,
        )
    if version > SCHEMA_VERSION:
        raise NewerSchemaError(
            f"{path} has schema version {version}, written by a newer LLMgine (this one knows "
            f"up to {SCHEMA_VERSION}); it was left as it is: upgrade LLMgine, or pass another "
            "file with --db",
            path,
            version,
            SCHEMA_VERSION,
        )
    return version


def _migrate(connection: sqlite3.Connection, path: Path, target: int) -> None:
    if _check_owner(connection, path) >= target:
        return  # up to date: no write lock (a reader never waits for a writer)
    while True:
        with write_transaction(connection):
            # Read again under the write lock: another process may have migrated meanwhile.
            version = _check_owner(connection, path)
            if version >= target:
                return
            # One statement at a time: executescript() would COMMIT the transaction.
            for statement in _statements(MIGRATIONS[version]):
                connection.execute(statement)
            connection.execute(f"PRAGMA application_id = {APPLICATION_ID}")
            connection.execute(f"PRAGMA user_version = {version + 1}")


def _statements(script: str) -> list[str]:
    return [part.strip() for part in script.split(";") if part.strip()]


def connect(
    path: str | os.PathLike[str] | None = None,
    *,
    busy_timeout: float = 5.0,
    schema_version: int = SCHEMA_VERSION,
) -> sqlite3.Connection:
    """Open (creating when needed) the conversations database and bring its schema up to date.

    Args:
        path: The file (default :func:`default_db_path`); its folder is created.
        busy_timeout: Seconds to wait for another process's lock before giving up.
        schema_version: Upgrade only this far (tests build older files with it).

    Raises:
        CorruptStoreError: the file is damaged or belongs to another program.
        NewerSchemaError: the file was written by a newer LLMgine.
        StoreBusyError: another process kept it locked past ``busy_timeout``.
        ConfigurationError: the folder cannot be created.
    """
    where = Path(path).expanduser() if path is not None else default_db_path()
    try:
        where.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigurationError(
            f"cannot create the folder of the conversations file {where}: {exc.strerror}; "
            "pass another file with --db"
        ) from exc
    with store_errors(where, busy_timeout):
        # Used by one thread at a time (an event loop's), which need not be the one that
        # opened it: a server may open the store before its loop's thread starts.
        connection = sqlite3.connect(
            where, timeout=busy_timeout, isolation_level=None, check_same_thread=False
        )
        try:
            connection.execute(f"PRAGMA busy_timeout = {int(busy_timeout * 1000)}")
            _check_owner(connection, where)  # before anything could write to it
            mode = connection.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            if str(mode).lower() != "wal":  # e.g. a file system without shared memory
                connection.execute("PRAGMA journal_mode = DELETE")
            connection.execute("PRAGMA synchronous = NORMAL")
            connection.execute("PRAGMA foreign_keys = ON")
            _migrate(connection, where, schema_version)
        except BaseException:
            connection.close()
            raise
    return connection
