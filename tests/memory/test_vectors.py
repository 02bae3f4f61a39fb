"""The vector backends agree with a brute-force search and follow the table as it changes."""

from __future__ import annotations

import random
import sqlite3
from pathlib import Path

import pytest

from llmgine.context import ConversationStore
from llmgine.errors import ConfigurationError
from llmgine.memory.backends import BACKENDS, open_backend
from llmgine.memory.vectors import normalised, pack


def usable(name: str) -> bool:
    connection = sqlite3.connect(":memory:")
    try:
        BACKENDS[name](connection, "probe", 4)
    except (ImportError, ConfigurationError):
        return False
    finally:
        connection.close()
    return True


BACKEND_PARAMS = [
    pytest.param(
        name,
        marks=pytest.mark.skipif(
            not usable(name),
            reason="numpy is not installed"
            if name == "numpy"
            else "sqlite-vec is not installed, or this Python's sqlite3 cannot load extensions",
        ),
    )
    for name in BACKENDS
]
DIMENSIONS = 16


def add_memories(
    store: ConversationStore, conversation: str, vectors: list[list[float]]
) -> list[int]:
    ids = []
    for n, vector in enumerate(vectors):
        first, last = store.append(
            conversation,
            [{"role": "user", "content": f"q{n}"}, {"role": "assistant", "content": "a"}],
        )
        cursor = store.connection.execute(
            "INSERT INTO memories (conversation_id, first_message_id, last_message_id, embedder, "
            "dimensions, vector, text, tokens, created_at) VALUES (?, ?, ?, 'e', ?, ?, ?, 5, 0)",
            (conversation, first, last, DIMENSIONS, pack(normalised(vector)), f"turn {n}"),
        )
        ids.append(int(cursor.lastrowid or 0))
    return ids


def brute_force(vectors: dict[int, list[float]], query: list[float], k: int) -> list[int]:
    scored = sorted(
        vectors,
        key=lambda i: -sum(a * b for a, b in zip(normalised(vectors[i]), query, strict=True)),
    )
    return scored[:k]


@pytest.mark.parametrize("backend", BACKEND_PARAMS)
def test_search_matches_brute_force_and_follows_changes(tmp_path: Path, backend: str) -> None:
    rng = random.Random(7)
    store = ConversationStore(tmp_path / "c.db")
    other = ConversationStore(tmp_path / "c.db")  # another process's connection
    vectors = [[rng.gauss(0, 1) for _ in range(DIMENSIONS)] for _ in range(120)]
    ids_a = add_memories(store, "a", vectors[:60])
    ids_b = add_memories(store, "b", vectors[60:])
    by_id = dict(zip(ids_a + ids_b, vectors, strict=True))
    search = open_backend(store.connection, "e", DIMENSIONS, backend)
    assert search.name == backend
    query = normalised([rng.gauss(0, 1) for _ in range(DIMENSIONS)])

    hits = search.search(query, 5)
    assert [i for i, _ in hits] == brute_force(by_id, query, 5)
    assert all(hits[n][1] >= hits[n + 1][1] for n in range(4))
    assert search.searched() == 120

    only_b = search.search(query, 3, conversation_id="b")
    assert [i for i, _ in only_b] == brute_force({i: by_id[i] for i in ids_b}, query, 3)
    skip = {hits[0][0], hits[1][0]}
    rest = search.search(query, 3, exclude=skip)
    assert [i for i, _ in rest] == [i for i in brute_force(by_id, query, 5) if i not in skip][:3]

    # Another connection adds a turn that matches the query exactly, then deletes a conversation.
    (exact,) = add_memories(other, "c", [query])
    assert search.search(query, 1)[0][0] == exact
    assert search.search(query, 1)[0][1] == pytest.approx(1.0, abs=1e-5)
    other.delete("a")
    remaining = {i: v for i, v in by_id.items() if i in ids_b} | {exact: query}
    assert [i for i, _ in search.search(query, 4)] == brute_force(remaining, query, 4)
    assert search.searched() == 61
    store.close()
    other.close()


def test_unknown_or_unusable_backends_say_so(tmp_path: Path) -> None:
    store = ConversationStore(tmp_path / "c.db")
    with pytest.raises(ConfigurationError, match="unknown vector backend 'faiss'"):
        open_backend(store.connection, "e", 4, "faiss")
    assert open_backend(store.connection, "e", 4).name in BACKENDS  # auto picks one that works
    store.close()
