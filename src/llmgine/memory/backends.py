"""The vector backends by name, and :func:`open_backend`, which picks one that works here."""

from __future__ import annotations

import sqlite3

from llmgine.errors import ConfigurationError
from llmgine.memory.sqlite_vec_index import SqliteVecIndex
from llmgine.memory.vectors import NumpyScan, PythonScan, VectorBackend

__all__ = ["BACKENDS", "open_backend"]

#: The backends by name, in the order ``"auto"`` tries them.
BACKENDS: dict[str, type[VectorBackend]] = {
    backend.name: backend for backend in (SqliteVecIndex, NumpyScan, PythonScan)
}


def open_backend(
    connection: sqlite3.Connection, embedder: str, dimensions: int, backend: str = "auto"
) -> VectorBackend:
    """The named backend (``"auto"``: the first of :data:`BACKENDS` that works here).

    Raises:
        ConfigurationError: the backend is unknown or cannot work here.
    """
    if backend != "auto":
        kind = BACKENDS.get(backend)
        if kind is None:
            known = ", ".join(["auto", *BACKENDS])
            raise ConfigurationError(f"unknown vector backend {backend!r}; known: {known}")
        try:
            return kind(connection, embedder, dimensions)
        except ImportError as exc:
            raise ConfigurationError(
                f"the {backend} backend needs {exc.name}: pip install 'llmgine[memory]'"
            ) from exc
    for kind in BACKENDS.values():
        try:
            return kind(connection, embedder, dimensions)
        except (ImportError, ConfigurationError):
            continue
    raise AssertionError("the python scan always works")  # pragma: no cover
