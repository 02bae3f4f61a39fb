"""Memory benchmark: recall latency at 10k and 100k stored turns, against a baseline of the run.

Run with ``.venv/bin/python benchmarks/memory_bench.py`` (``--quick`` for a short run).

A conversations file is filled with N turns (a user message, an answer and
the turn's embedding, 256-dimensional from the offline hash embedder) over 100
conversations. For each vector backend that works here (sqlite-vec, numpy,
plain Python):

* **first recall**: the first search, which reads every vector from the file;
* **recall**: a later one (median): the query embedded, the search, the
  recalled turns read back, as a turn with memory does before its first model call.

The **baseline** is what every stored turn costs anyway, measured on the same
file in the same run: ``SQLiteContextManager.retrieve()`` of a resumed
20-message conversation plus storing a message and deleting it again. The
ratio says how many baselines a recall costs. (A remote embedder adds its
own round trip to the query's embedding: one request per turn.)
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from llmgine.context import ConversationStore, SQLiteContextManager
from llmgine.context.db import write_transaction
from llmgine.errors import ConfigurationError
from llmgine.memory import BACKENDS, Memory
from llmgine.memory.vectors import normalised, pack
from llmgine.models import HashEmbedder

WORDS = [f"w{n:04d}" for n in range(3000)]
DIMENSIONS = 256


def sentence(rng: random.Random, words: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(words))


def fill(store: ConversationStore, turns: int, rng: random.Random) -> list[str]:
    """``turns`` embedded turns over 100 conversations; the questions asked."""
    embedder = HashEmbedder(DIMENSIONS)
    conversations = [f"conv{n:03d}" for n in range(100)]
    questions: list[str] = []
    connection = store.connection
    with write_transaction(connection):
        for cid in conversations:
            connection.execute(
                "INSERT INTO conversations (id, title, created_at, updated_at) "
                "VALUES (?, '', 0, 0)",
                (cid,),
            )
        message_rows = []
        memory_rows = []
        next_id = 1
        for n in range(turns):
            cid = conversations[n % len(conversations)]
            question, answer = sentence(rng, 12), sentence(rng, 30)
            questions.append(question)
            message_rows += [
                (next_id, cid, "user", f'{{"role": "user", "content": "{question}"}}'),
                (next_id + 1, cid, "assistant", f'{{"role": "assistant", "content": "{answer}"}}'),
            ]
            text = f"User: {question}\nAssistant: {answer}"
            vector = pack(normalised(embedder.vector(text)))
            memory_rows.append(
                (cid, next_id, next_id + 1, embedder.name, DIMENSIONS, vector, text, 60)
            )
            next_id += 2
        connection.executemany(
            "INSERT INTO messages (id, conversation_id, role, body, created_at) "
            "VALUES (?, ?, ?, ?, 0)",
            message_rows,
        )
        connection.executemany(
            "INSERT INTO memories (conversation_id, first_message_id, last_message_id, embedder, "
            "dimensions, vector, text, tokens, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 0)",
            memory_rows,
        )
    return questions


async def median_us(action: Callable[[], Awaitable[Any]], rounds: int) -> float:
    samples = []
    for _ in range(rounds):
        start = time.perf_counter()
        await action()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples) * 1e6


async def case(turns: int, rounds: int, folder: Path) -> list[dict[str, Any]]:
    rng = random.Random(turns)
    store = ConversationStore(folder / f"memory-{turns}.db")
    questions = fill(store, turns, rng)
    resumed = SQLiteContextManager(store=store, conversation_id="conv000", max_messages=20)
    resumed.set_system_prompt("You are a helpful assistant.")

    async def baseline() -> None:
        mark = resumed.checkpoint()
        resumed.store_string("one more question")
        await resumed.retrieve()
        resumed.rollback(mark)

    base = await median_us(baseline, max(rounds, 20))
    results = []
    for name in BACKENDS:
        memory = Memory(store, HashEmbedder(DIMENSIONS), backend=name, min_score=0.0)
        query = questions[rng.randrange(len(questions))] + " " + sentence(rng, 3)
        try:
            start = time.perf_counter()
            first = await memory.recall(query)
            first_us = (time.perf_counter() - start) * 1e6
        except ConfigurationError as exc:
            results.append({"turns": turns, "backend": name, "skipped": str(exc)})
            continue
        assert first.turns and first.candidates == turns, (name, first)
        warm_rounds = rounds if name != "python" else max(3, rounds // 4)
        warm = await median_us(lambda memory=memory, q=query: memory.recall(q), warm_rounds)
        results.append(
            {
                "turns": turns,
                "backend": name,
                "first_us": first_us,
                "recall_us": warm,
                "baseline_us": base,
            }
        )
    store.close()
    return results


def main() -> None:
    """Run the cases and print a table."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer turns (a smoke run)")
    args = parser.parse_args()
    sizes, rounds = ((1_000, 3_000), 5) if args.quick else ((10_000, 100_000), 20)
    print(f"Python {sys.version.split()[0]}; {DIMENSIONS}-dimensional vectors; medians")
    print()
    header = f"{'turns':>8} {'backend':11} {'first recall':>13} {'recall':>10} {'baseline':>10}"
    print(f"{header} {'ratio':>8}")
    with tempfile.TemporaryDirectory(prefix="llmgine-memory-bench-") as folder:
        for turns in sizes:
            for row in asyncio.run(case(turns, rounds, Path(folder))):
                if "skipped" in row:
                    print(f"{row['turns']:8,} {row['backend']:11} not here: {row['skipped']}")
                    continue
                ratio = row["recall_us"] / row["baseline_us"]
                print(
                    f"{row['turns']:8,} {row['backend']:11} {row['first_us'] / 1000:10.1f} ms "
                    f"{row['recall_us'] / 1000:7.2f} ms {row['baseline_us'] / 1000:7.2f} ms "
                    f"{ratio:7.1f}x"
                )
    print()
    print("baseline: a stored turn's context without memory (retrieve + store + delete)")


if __name__ == "__main__":
    main()
