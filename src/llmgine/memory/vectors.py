"""Nearest vectors among the stored memories: the backend interface and the two scans.

The ``memories`` table of the conversations file holds every vector (float32,
unit length) and is the truth. A backend finds the ``k`` best-scoring rows
(cosine similarity) of one embedder:

* ``numpy``: a matrix held in memory, read once and then topped up;
* ``python``: the same in plain Python (no dependency; slow past ~10k turns);
* ``sqlite-vec``: see :mod:`llmgine.memory.sqlite_vec_index`.

:func:`~llmgine.memory.backends.open_backend` picks one.
"""

from __future__ import annotations

import heapq
import math
import sqlite3
from abc import ABC, abstractmethod
from array import array
from collections.abc import Collection, Sequence
from operator import mul
from typing import ClassVar

__all__ = ["NumpyScan", "PythonScan", "VectorBackend", "normalised", "pack"]


def normalised(vector: Sequence[float]) -> list[float]:
    """``vector`` scaled to unit length (a zero vector stays zero)."""
    norm = math.sqrt(sum(x * x for x in vector))
    return [x / norm for x in vector] if norm else list(vector)


def pack(vector: Sequence[float]) -> bytes:
    """A vector as the float32 bytes stored in ``memories.vector``."""
    return array("f", vector).tobytes()


class VectorBackend(ABC):
    """Finds the best-scoring memories of one embedder.

    Args:
        connection: The conversations database.
        embedder: The embedder's name (rows of other embedders are ignored).
        dimensions: The vectors' length.
    """

    name: ClassVar[str] = ""

    def __init__(self, connection: sqlite3.Connection, embedder: str, dimensions: int) -> None:
        self.connection = connection
        self.embedder = embedder
        self.dimensions = dimensions

    def searched(self) -> int:
        """How many vectors the last search looked at."""
        return self._searched

    _searched = 0

    @abstractmethod
    def search(
        self,
        query: Sequence[float],
        k: int,
        *,
        conversation_id: str | None = None,
        exclude: Collection[int] = (),
    ) -> list[tuple[int, float]]:
        """The ``k`` best ``(memory id, cosine similarity)``, best first.

        Args:
            query: A unit vector.
            k: How many.
            conversation_id: Only memories of this conversation (None: all).
            exclude: Memory ids to leave out.
        """

    _version: tuple[int, int] | None = None

    def changed(self) -> bool:
        """Whether the file may have changed since the last call (cheap: no table is read).

        ``PRAGMA data_version`` moves when another connection commits;
        ``total_changes`` when this one writes.
        """
        version = (
            int(self.connection.execute("PRAGMA data_version").fetchone()[0]),
            self.connection.total_changes,
        )
        if version == self._version:
            return False
        self._version = version
        return True

    def stamp(self) -> tuple[int, int]:
        """How many vectors of this embedder are stored, and the newest row id."""
        row = self.connection.execute(
            "SELECT count(*), coalesce(max(id), 0) FROM memories "
            "WHERE embedder = ? AND dimensions = ?",
            (self.embedder, self.dimensions),
        ).fetchone()
        return int(row[0]), int(row[1])


class _Scan(VectorBackend):
    """A scan over every vector, held in memory and topped up with new rows."""

    def __init__(self, connection: sqlite3.Connection, embedder: str, dimensions: int) -> None:
        super().__init__(connection, embedder, dimensions)
        self._stamp_seen = (0, 0)
        self._codes: dict[str, int] = {}
        self.clear()

    def clear(self) -> None:
        """Forget what was read (the next search reads everything again)."""
        self._stamp_seen = (0, 0)

    def refresh(self) -> None:
        """Read the rows added since the last search (all of them after a deletion)."""
        if not self.changed():
            return
        for _ in range(3):  # another process may change the table while it is read
            count, newest = self.stamp()
            seen_count, seen_newest = self._stamp_seen
            if (count, newest) == (seen_count, seen_newest):
                return
            after = seen_newest
            if newest < seen_newest or count < seen_count:  # rows were deleted: read all
                self.clear()
                after = 0
            rows = self.connection.execute(
                "SELECT id, conversation_id, vector FROM memories "
                "WHERE embedder = ? AND dimensions = ? AND id > ? ORDER BY id",
                (self.embedder, self.dimensions, after),
            ).fetchall()
            codes = [self._codes.setdefault(row[1], len(self._codes)) for row in rows]
            self.extend([row[0] for row in rows], codes, [row[2] for row in rows])
            held_newest = rows[-1][0] if rows else after
            self._stamp_seen = (self.size(), held_newest)
            if self._stamp_seen == (count, newest):
                return
            self.clear()  # deletions and additions at once: read everything again

    @abstractmethod
    def extend(self, ids: list[int], codes: list[int], blobs: list[bytes]) -> None:
        """Add rows to what is held."""

    @abstractmethod
    def size(self) -> int:
        """Rows held."""


class PythonScan(_Scan):
    """Every vector in plain Python lists: no dependency."""

    name = "python"

    def clear(self) -> None:
        """Forget what was read."""
        super().clear()
        self._rows: list[tuple[int, int, array[float]]] = []

    def extend(self, ids: list[int], codes: list[int], blobs: list[bytes]) -> None:
        """Add rows."""
        self._rows.extend((i, c, array("f", b)) for i, c, b in zip(ids, codes, blobs, strict=True))

    def size(self) -> int:
        """Rows held."""
        return len(self._rows)

    def search(
        self,
        query: Sequence[float],
        k: int,
        *,
        conversation_id: str | None = None,
        exclude: Collection[int] = (),
    ) -> list[tuple[int, float]]:
        """The ``k`` best memories by a dot product with every held vector."""
        self.refresh()
        self._searched = len(self._rows)
        code = self._codes.get(conversation_id, -1) if conversation_id is not None else None
        q = array("f", query)
        skip = set(exclude)
        scored = (
            (sum(map(mul, vector, q)), row_id)
            for row_id, row_code, vector in self._rows
            if (code is None or row_code == code) and row_id not in skip
        )
        return [(row_id, float(score)) for score, row_id in heapq.nlargest(k, scored)]


class NumpyScan(_Scan):
    """Every vector in one numpy matrix: a matrix-vector product per search."""

    name = "numpy"

    def __init__(self, connection: sqlite3.Connection, embedder: str, dimensions: int) -> None:
        import numpy  # noqa: F401 - fail here, where "auto" can fall back

        super().__init__(connection, embedder, dimensions)

    def clear(self) -> None:
        """Forget what was read."""
        import numpy as np

        super().clear()
        # Buffers grown by doubling: a new turn does not copy the whole matrix.
        self._count = 0
        self._matrix = np.zeros((64, self.dimensions), dtype=np.float32)
        self._ids = np.zeros(64, dtype=np.int64)
        self._row_codes = np.zeros(64, dtype=np.int64)

    def extend(self, ids: list[int], codes: list[int], blobs: list[bytes]) -> None:
        """Add rows."""
        import numpy as np

        if not ids:
            return
        end = self._count + len(ids)
        if end > len(self._ids):
            size = max(end, 2 * len(self._ids))
            self._matrix = np.resize(self._matrix, (size, self.dimensions))
            self._ids = np.resize(self._ids, size)
            self._row_codes = np.resize(self._row_codes, size)
        block = np.frombuffer(b"".join(blobs), dtype=np.float32).reshape(len(ids), -1)
        self._matrix[self._count : end] = block
        self._ids[self._count : end] = ids
        self._row_codes[self._count : end] = codes
        self._count = end

    def size(self) -> int:
        """Rows held."""
        return self._count

    def search(
        self,
        query: Sequence[float],
        k: int,
        *,
        conversation_id: str | None = None,
        exclude: Collection[int] = (),
    ) -> list[tuple[int, float]]:
        """The ``k`` best memories by one matrix-vector product."""
        import numpy as np

        self.refresh()
        count = self._searched = self._count
        if not count or k <= 0:
            return []
        matrix, ids, row_codes = self._matrix[:count], self._ids[:count], self._row_codes[:count]
        # einsum's own loop, not BLAS: OpenBLAS wakes its threads for a matrix-vector
        # product, which costs milliseconds after an idle spell (between two turns).
        scores = np.einsum("ij,j->i", matrix, np.asarray(query, dtype=np.float32))
        if conversation_id is not None:
            scores[row_codes != self._codes.get(conversation_id, -1)] = -np.inf
        if exclude:
            scores[np.isin(ids, np.fromiter(exclude, dtype=np.int64))] = -np.inf
        k = min(k, count)
        top = np.argpartition(-scores, k - 1)[:k]
        top = top[np.argsort(-scores[top], kind="stable")]
        return [(int(ids[i]), float(scores[i])) for i in top if np.isfinite(scores[i])]
