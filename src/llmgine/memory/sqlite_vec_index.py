"""The sqlite-vec backend: a ``vec0`` virtual table in the conversations file.

It needs the ``memory`` extra (``sqlite-vec``) and a Python whose ``sqlite3``
can load extensions; many builds (pyenv's, macOS's) cannot, and say so.
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Collection, Sequence
from typing import Any

from llmgine.errors import ConfigurationError
from llmgine.memory.vectors import VectorBackend, pack

__all__ = ["SqliteVecIndex", "load"]


class SqliteVecIndex(VectorBackend):
    """A ``vec0`` virtual table of the sqlite-vec extension, kept in step with ``memories``.

    Raises:
        ConfigurationError: sqlite-vec is not installed, or this Python's
            ``sqlite3`` cannot load extensions.
    """

    name = "sqlite-vec"

    def __init__(self, connection: sqlite3.Connection, embedder: str, dimensions: int) -> None:
        super().__init__(connection, embedder, dimensions)
        load(connection)
        digest = hashlib.sha256(f"{embedder}/{dimensions}".encode()).hexdigest()[:16]
        self.table = f"memory_vec_{digest}"
        self.connection.execute(
            f"CREATE VIRTUAL TABLE IF NOT EXISTS {self.table} USING vec0("
            f"memory_id INTEGER PRIMARY KEY, embedding float[{dimensions}] "
            "distance_metric=cosine, conversation_id TEXT)"
        )
        self._stamp_seen = (0, 0)

    def sync(self) -> None:
        """Copy new rows of ``memories`` into the index and drop the deleted ones."""
        if not self.changed():
            return
        stamp = self.stamp()
        if stamp == self._stamp_seen:
            return
        t = self.table
        self.connection.execute("BEGIN IMMEDIATE")
        try:
            self.connection.execute(
                f"DELETE FROM {t} WHERE memory_id NOT IN (SELECT id FROM memories)"
            )
            self.connection.execute(
                f"INSERT INTO {t} (memory_id, embedding, conversation_id) "
                "SELECT id, vector, conversation_id FROM memories WHERE embedder = ? "
                f"AND dimensions = ? AND id > (SELECT coalesce(max(memory_id), 0) FROM {t})",
                (self.embedder, self.dimensions),
            )
        except BaseException:
            self.connection.rollback()
            raise
        self.connection.commit()
        self._stamp_seen = stamp
        self.changed()  # its own writes are not a change of the memories

    def search(
        self,
        query: Sequence[float],
        k: int,
        *,
        conversation_id: str | None = None,
        exclude: Collection[int] = (),
    ) -> list[tuple[int, float]]:
        """The ``k`` nearest memories by the index's KNN query."""
        self.sync()
        self._searched = self._stamp_seen[0]
        wanted = k + len(exclude)
        where = " AND conversation_id = ?" if conversation_id is not None else ""
        params: list[Any] = [pack(query), wanted]
        if conversation_id is not None:
            params.append(conversation_id)
        rows = self.connection.execute(
            f"SELECT memory_id, distance FROM {self.table} WHERE embedding MATCH ? "
            f"AND k = ?{where} ORDER BY distance",
            params,
        ).fetchall()
        skip = set(exclude)
        return [(int(i), 1.0 - float(d)) for i, d in rows if i not in skip][:k]


def load(connection: sqlite3.Connection) -> None:
    """Load sqlite-vec into ``connection``.

    Raises:
        ConfigurationError: it is not installed, or cannot be loaded here.
    """
    try:
        import sqlite_vec
    except ImportError as exc:
        raise ConfigurationError(
            "sqlite-vec is not installed: pip install 'llmgine[memory]'"
        ) from exc
    if not hasattr(connection, "enable_load_extension"):
        raise ConfigurationError(
            "this Python's sqlite3 cannot load extensions (built without them), so "
            "sqlite-vec cannot be used; the numpy or python scan works instead"
        )
    try:
        connection.enable_load_extension(True)
        sqlite_vec.load(connection)
    except sqlite3.Error as exc:
        raise ConfigurationError(f"sqlite-vec could not be loaded: {exc}") from exc
    finally:
        connection.enable_load_extension(False)
