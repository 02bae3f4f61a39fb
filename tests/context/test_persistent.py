"""The SQLite context manager: message shapes kept exactly, the same trimming, safe storage."""

from __future__ import annotations

import hashlib
import json
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from llmgine.context import (
    SCHEMA_VERSION,
    ConversationStore,
    InMemoryContextManager,
    SQLiteContextManager,
    default_db_path,
)
from llmgine.context.db import APPLICATION_ID, connect
from llmgine.errors import (
    ConversationNotFoundError,
    ConversationStoreError,
    CorruptStoreError,
    NewerSchemaError,
    SerializationError,
)
from llmgine.models.response import LLMResponse, RedactedThinkingPart, ThinkingPart
from llmgine.tools import ToolCall

SRC = Path(__file__).resolve().parents[2] / "src"


def assert_consistent(messages: list[dict[str, Any]]) -> None:
    """Every tool result follows its call; every call has all its results."""
    open_calls: set[str] = set()
    for message in messages:
        if message["role"] == "tool":
            assert message["tool_call_id"] in open_calls, "tool result without its call"
            open_calls.discard(message["tool_call_id"])
        else:
            assert not open_calls, "tool calls left without results"
            for call in message.get("tool_calls") or []:
                open_calls.add(call["id"])
    assert not open_calls


async def fill(context: InMemoryContextManager, turns: int) -> None:
    """Turns of every shape: plain, tool-calling with thinking, two calls at once."""
    for n in range(turns):
        context.store_string(f"question {n}: what is the weather in Oslo? ünïcødé ✓")
        await context.store_assistant_message(
            LLMResponse(
                content=None,
                tool_calls=[
                    ToolCall(f"c{n}a", "get_weather", json.dumps({"city": "Oslo", "n": n})),
                    ToolCall(f"c{n}b", "get_time", "{}"),
                ],
                thinking_blocks=[ThinkingPart(f"thinking {n}", "sig-" + "x" * 20)]
                + ([RedactedThinkingPart("opaque==")] if n % 2 else []),
            )
        )
        context.store_tool_call_result(f"c{n}a", "get_weather", f"{n} C\nwindy")
        context.store_tool_call_result(f"c{n}b", "get_time", '{"time": "12:00"}')
        await context.store_assistant_message(
            {"role": "assistant", "content": [{"type": "text", "text": f"answer {n}"}]}
        )


async def test_every_message_shape_comes_back_exactly(tmp_path: Path) -> None:
    db = tmp_path / "c.db"
    memory = InMemoryContextManager(max_messages=None)
    stored = SQLiteContextManager(store=db, max_messages=None)
    for context in (memory, stored):
        context.set_system_prompt("Be brief.")
        await fill(context, 3)
    assert stored.chat_history == memory.chat_history
    assert None not in stored.row_ids
    stored.close()

    resumed = SQLiteContextManager(store=db, conversation_id=stored.conversation_id)
    assert resumed.chat_history == memory.chat_history
    first_call = resumed.chat_history[1]
    assert first_call["thinking_blocks"] == [
        {"type": "thinking", "thinking": "thinking 0", "signature": "sig-" + "x" * 20}
    ]
    assert first_call["tool_calls"][0]["function"]["arguments"] == '{"city": "Oslo", "n": 0}'
    assert resumed.chat_history[6]["thinking_blocks"][1] == {
        "type": "redacted_thinking",
        "data": "opaque==",
    }
    resumed.close()


@pytest.mark.parametrize("max_messages", [None, 1, 3, 4, 5, 8, 13])
@pytest.mark.parametrize("max_tokens", [None, 40, 120, 400])
async def test_the_same_trimming_as_in_memory(
    tmp_path: Path, max_messages: int | None, max_tokens: int | None
) -> None:
    memory = InMemoryContextManager(max_messages=max_messages, max_tokens=max_tokens)
    stored = SQLiteContextManager(
        store=tmp_path / "c.db", max_messages=max_messages, max_tokens=max_tokens
    )
    for context in (memory, stored):
        context.set_system_prompt("system")
        await fill(context, 4)
    assert stored.messages() == memory.messages()
    assert_consistent(stored.messages()[1:])
    resumed = SQLiteContextManager(
        store=stored.store,
        conversation_id=stored.conversation_id,
        max_messages=max_messages,
        max_tokens=max_tokens,
    )
    resumed.set_system_prompt("system")
    assert await resumed.retrieve() == memory.messages()
    stored.close()


async def test_a_tool_call_is_written_with_its_results_never_apart(tmp_path: Path) -> None:
    context = SQLiteContextManager(store=tmp_path / "c.db")
    other = ConversationStore(tmp_path / "c.db")  # another process's connection
    context.store_string("weather?")
    await context.store_assistant_message(
        LLMResponse(content=None, tool_calls=[ToolCall("c1", "f", "{}"), ToolCall("c2", "f", "{}")])
    )
    assert other.stamp(context.conversation_id) == (1, context.row_ids[0])  # call held back
    context.store_tool_call_result("c1", "f", "one")
    other.append(context.conversation_id, [{"role": "user", "content": "from elsewhere"}])
    context.store_tool_call_result("c2", "f", "two")
    roles = [m.message["role"] for m in other.messages(context.conversation_id)]
    assert roles == ["user", "user", "assistant", "tool", "tool"]
    assert_consistent([m.message for m in other.messages(context.conversation_id)])
    # The next turn starts with what the other writer added.
    mark = context.checkpoint()
    assert mark == 5 and context.chat_history[1]["content"] == "from elsewhere"
    context.close()
    other.close()


async def test_rollback_deletes_what_the_turn_wrote(tmp_path: Path) -> None:
    context = SQLiteContextManager(store=tmp_path / "c.db")
    context.store_string("kept")
    mark = context.checkpoint()
    context.store_string("dropped")
    await context.store_assistant_message(
        LLMResponse(content=None, tool_calls=[ToolCall("c1", "f", "{}")])
    )
    context.store_tool_call_result("c1", "f", "r")
    context.rollback(mark)
    stored = context.store.messages(context.conversation_id)
    assert [m.message["content"] for m in stored] == ["kept"]
    assert context.messages() == [{"role": "user", "content": "kept"}]
    context.clear()
    assert context.store.messages(context.conversation_id) == []
    context.close()


def test_conversations_list_get_resolve_delete(tmp_path: Path) -> None:
    store = ConversationStore(tmp_path / "c.db")
    first = SQLiteContextManager(store=store, metadata={"engine": "ToolChatEngine"})
    first.set_system_prompt("sys")
    first.store_string("the first question, which is long enough " * 4)
    second = SQLiteContextManager(store=store)
    second.store_string("second")
    empty = SQLiteContextManager(store=store)  # nothing stored: not listed
    listed = store.list_conversations()
    assert [c.id for c in listed] == [second.conversation_id, first.conversation_id]
    assert empty.conversation_id not in {c.id for c in listed}
    info = store.get(first.conversation_id[:8])
    assert info.title.startswith("the first question") and len(info.title) <= 80
    assert info.system_prompt == "sys" and info.message_count == 1
    assert info.metadata == {"engine": "ToolChatEngine"}
    assert store.latest() == listed[0]
    with pytest.raises(ConversationNotFoundError, match="no conversation .* match 'zzz'"):
        store.get("zzz")
    with pytest.raises(ConversationNotFoundError):
        SQLiteContextManager(store=store, conversation_id="nope")
    assert store.delete(first.conversation_id) == first.conversation_id
    assert store.messages(first.conversation_id) == []
    assert [c.id for c in store.list_conversations()] == [second.conversation_id]
    store.close()


def test_a_message_that_is_not_json_is_refused_and_nothing_is_stored(tmp_path: Path) -> None:
    context = SQLiteContextManager(store=tmp_path / "c.db")
    context.store_string("fine")
    with pytest.raises(SerializationError, match="cannot be stored as JSON"):
        context.store.append(context.conversation_id, [{"role": "user"}, {"role": "x", "c": {1j}}])
    assert len(context.store.messages(context.conversation_id)) == 1
    context.close()


def test_the_default_file_is_under_the_user_data_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert default_db_path() == tmp_path / "xdg" / "llmgine" / "conversations.db"
    monkeypatch.setenv("LLMGINE_CONVERSATIONS_DB", str(tmp_path / "here.db"))
    assert default_db_path() == tmp_path / "here.db"
    store = ConversationStore()
    assert store.path == tmp_path / "here.db" and store.path.is_file()
    mode = store.connection.execute("PRAGMA journal_mode").fetchone()[0]
    assert mode == "wal"
    store.close()


# -- the file: versions, corruption, two writers ----------------------------------------


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_an_older_schema_is_migrated_keeping_the_data(tmp_path: Path) -> None:
    db = tmp_path / "c.db"
    old = connect(db, schema_version=1)
    assert old.execute("PRAGMA user_version").fetchone()[0] == 1
    old.execute(
        "INSERT INTO conversations (id, title, created_at, updated_at) VALUES ('abc', 't', 1, 1)"
    )
    old.execute(
        "INSERT INTO messages (conversation_id, role, body, created_at) "
        """VALUES ('abc', 'user', '{"role": "user", "content": "hi"}', 1)"""
    )
    tables = {row[0] for row in old.execute("SELECT name FROM sqlite_master")}
    assert "memories" not in tables
    old.close()
    store = ConversationStore(db)
    assert store.connection.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert store.connection.execute("PRAGMA application_id").fetchone()[0] == APPLICATION_ID
    assert [m.message for m in store.messages("abc")] == [{"role": "user", "content": "hi"}]
    store.connection.execute("SELECT count(*) FROM memories").fetchone()
    store.close()


def test_a_newer_schema_is_refused_and_left_untouched(tmp_path: Path) -> None:
    db = tmp_path / "c.db"
    ConversationStore(db).close()
    raw = sqlite3.connect(db)
    raw.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 5}")
    raw.commit()
    raw.close()
    before = digest(db)
    with pytest.raises(NewerSchemaError, match="newer LLMgine") as caught:
        ConversationStore(db)
    assert caught.value.found == SCHEMA_VERSION + 5 and caught.value.known == SCHEMA_VERSION
    assert "--db" in str(caught.value)
    assert digest(db) == before


@pytest.mark.parametrize(
    "kind", ["garbage", "another program", "a versioned empty file", "truncated"]
)
def test_a_file_that_is_not_ours_or_is_damaged_is_refused_and_left_untouched(
    tmp_path: Path, kind: str
) -> None:
    db = tmp_path / "c.db"
    if kind == "garbage":
        db.write_bytes(b"these are not the bytes of a database\n" * 200)
    elif kind == "another program":
        raw = sqlite3.connect(db)
        raw.execute("CREATE TABLE photos (id INTEGER PRIMARY KEY, path TEXT)")
        raw.commit()
        raw.close()
    elif kind == "a versioned empty file":  # no tables, but a schema version of its own
        raw = sqlite3.connect(db)
        raw.execute("PRAGMA user_version = 1")
        raw.close()
    else:
        store = ConversationStore(db)
        for n in range(300):
            store.append("abc", [{"role": "user", "content": f"message {n} " + "x" * 200}])
        store.close()
        data = db.read_bytes()
        db.write_bytes(data[: len(data) // 3])
    before = digest(db)
    with pytest.raises(CorruptStoreError, match="left as it is") as caught:
        store = ConversationStore(db)
        store.messages("abc")  # a truncated file may open and fail on the first read
    assert isinstance(caught.value, ConversationStoreError)
    assert digest(db) == before


WRITER = """
import asyncio, sys
sys.path.insert(0, {src!r})
from llmgine.context import ConversationStore, SQLiteContextManager
from llmgine.models.response import LLMResponse
from llmgine.tools import ToolCall

async def main(name, conversation, turns):
    store = ConversationStore({db!r}, busy_timeout=30)
    context = SQLiteContextManager(store=store, conversation_id=conversation)
    print("ready", flush=True)
    sys.stdin.readline()  # every writer starts at once
    for n in range(turns):
        context.checkpoint()
        context.store_string(f"{{name}} {{n}}")
        await context.store_assistant_message(
            LLMResponse(content=None, tool_calls=[ToolCall(f"{{name}}-{{n}}", "f", "{{}}")])
        )
        context.store_tool_call_result(f"{{name}}-{{n}}", "f", "result")
        await context.store_assistant_message(LLMResponse(content=f"{{name}} answer {{n}}"))
    context.close()
    store.close()
    print("done", flush=True)

asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3])))
"""


def test_two_processes_writing_one_conversation_never_corrupt_it(tmp_path: Path) -> None:
    db = tmp_path / "shared.db"
    store = ConversationStore(db)
    conversation = store.create()
    script = tmp_path / "writer.py"
    script.write_text(WRITER.format(src=str(SRC), db=str(db)))
    turns = 60
    writers = [
        subprocess.Popen(
            [sys.executable, str(script), name, conversation, str(turns)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name in ("A", "B")
    ]
    for writer in writers:
        assert writer.stdout is not None and writer.stdout.readline().strip() == "ready"
    for writer in writers:
        assert writer.stdin is not None
        writer.stdin.write("go\n")
        writer.stdin.flush()
    for writer in writers:
        out, err = writer.communicate(timeout=180)
        assert writer.returncode == 0, err
        assert "done" in out and "Traceback" not in err
    assert store.connection.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    messages = [m.message for m in store.messages(conversation)]
    assert len(messages) == 2 * turns * 4
    assert_consistent(messages)
    for name in ("A", "B"):
        own = [m["content"] for m in messages if m["role"] == "user" and m["content"][0] == name]
        assert own == [f"{name} {n}" for n in range(turns)]
    store.close()


def test_a_store_that_is_up_to_date_opens_while_another_process_writes(tmp_path: Path) -> None:
    db = tmp_path / "c.db"
    ConversationStore(db).close()
    writer = sqlite3.connect(db, isolation_level=None)
    writer.execute("BEGIN IMMEDIATE")  # another process holds the write lock
    try:
        with ConversationStore(db, busy_timeout=0.2) as store:  # reading needs no write lock
            assert store.list_conversations() == []
    finally:
        writer.execute("ROLLBACK")
        writer.close()
