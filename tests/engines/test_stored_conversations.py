"""Engines over stored conversations: engine functions and engines take conversation_id= and db=."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest

from llmgine.bus.bus import MessageBus
from llmgine.context import ConversationStore, SQLiteContextManager
from llmgine.engines import ToolChatEngine, use_tool_chat_engine
from llmgine.errors import ConversationNotFoundError, EngineError
from llmgine.models.response import LLMResponse
from llmgine.testing import FakeMessageBus, FunctionModel, ScriptedModel
from llmgine.tools import ToolCall, tool


@tool
def get_weather(city: str) -> str:
    """Weather for a city.

    Args:
        city: The city.
    """
    return f"{city}: 17 C"


def echo(messages: list[dict[str, object]], info: object) -> str:
    return f"I have seen {len(messages)} messages"


async def test_an_engine_function_continues_a_stored_conversation(
    bus: MessageBus, tmp_path: Path
) -> None:
    db = tmp_path / "c.db"
    store = ConversationStore(db)
    conversation = store.create()
    model = FunctionModel(echo)
    first = await use_tool_chat_engine("one", model, conversation_id=conversation, db=db)
    assert first == "I have seen 2 messages"  # the system prompt and "one"
    second = await use_tool_chat_engine("two", model, conversation_id=conversation[:5], db=store)
    assert second == "I have seen 4 messages"
    stored = [m.message for m in store.messages(conversation)]
    assert [m["content"] for m in stored] == ["one", first, "two", second]
    with pytest.raises(EngineError, match="no conversation .* match 'missing'"):
        await use_tool_chat_engine("x", model, conversation_id="missing", db=db)
    store.close()


async def test_a_turn_with_tools_is_stored_and_a_failed_turn_is_not(
    bus: MessageBus, tmp_path: Path
) -> None:
    model = ScriptedModel(
        [
            LLMResponse(
                content=None, tool_calls=[ToolCall("c1", "get_weather", '{"city": "Oslo"}')]
            ),
            LLMResponse(content="17 C in Oslo."),
        ]
    )
    engine = ToolChatEngine(model=model, tools=[get_weather], db=tmp_path / "c.db")
    assert isinstance(engine.context, SQLiteContextManager)
    result = await engine.execute("Weather in Oslo?")
    assert result.success
    conversation = engine.conversation_id
    assert conversation is not None
    failing = await engine.execute("again?")  # the script is used up: the turn fails
    assert not failing.success
    store = ConversationStore(tmp_path / "c.db")
    roles = [m.message["role"] for m in store.messages(conversation)]
    assert roles == ["user", "assistant", "tool", "assistant"]
    info = store.get(conversation)
    assert info.metadata["engine"] == "ToolChatEngine"
    assert info.system_prompt == engine.system_prompt
    resumed = ToolChatEngine(model=FunctionModel(echo), conversation_id=conversation, db=store)
    assert await resumed.answer("and now?") == "I have seen 6 messages"
    store.close()


def test_an_in_memory_engine_has_no_conversation_id() -> None:
    assert ToolChatEngine(model="test").conversation_id is None


async def test_a_new_conversation_keeps_the_stored_one(tmp_path: Path) -> None:
    db = tmp_path / "conversations.db"
    engine = ToolChatEngine("s", model=FunctionModel(echo), db=db)
    await engine.execute("first question")
    kept = engine.conversation_id
    fresh = engine.new_conversation()
    assert fresh is not None and fresh != kept and engine.conversation_id == fresh
    await engine.execute("second question")
    again = ToolChatEngine("t", model=FunctionModel(echo), db=db, conversation_id=kept)
    assert [m["content"] for m in again.context.chat_history][:1] == ["first question"]
    assert len(again.context.chat_history) == 2  # the first conversation, untouched


def test_in_memory_a_new_conversation_forgets_the_old_one() -> None:
    engine = ToolChatEngine("s", model=FunctionModel(echo))
    engine.context.store_string("hello")
    assert engine.new_conversation() is None and engine.context.chat_history == []


async def test_a_prompt_the_store_refused_is_not_kept_for_the_next_turn(tmp_path: Path) -> None:
    db = tmp_path / "conversations.db"
    asked: list[list[str]] = []

    def answer(messages: list[dict[str, Any]], info: object) -> str:
        asked.append([str(m["content"]) for m in messages if m["role"] == "user"])
        return "ok"

    store = ConversationStore(db, busy_timeout=0.1)
    engine = ToolChatEngine("s", model=FunctionModel(answer), db=store, bus=FakeMessageBus())
    assert (await engine.execute("first")).success
    locker = sqlite3.connect(db, isolation_level=None)
    locker.execute("BEGIN IMMEDIATE")  # another process holds the write lock
    try:
        refused = await engine.execute("second (while locked)")
    finally:
        locker.execute("ROLLBACK")
        locker.close()
    assert not refused.success and "locked" in (refused.error or "")
    assert (await engine.execute("third")).success
    assert asked[-1] == ["first", "third"]
    assert [m.message["content"] for m in store.messages(engine.conversation_id or "")] == [
        "first",
        "ok",
        "third",
        "ok",
    ]
    store.close()


async def test_a_continued_conversation_keeps_its_system_prompt(tmp_path: Path) -> None:
    store = ConversationStore(tmp_path / "conversations.db")
    bus = FakeMessageBus()
    first = ToolChatEngine(
        "s", model=FunctionModel(lambda m, i: "Arr."), db=store, bus=bus, system_prompt="Pirate."
    )
    await first.execute("hello")
    stored = first.conversation_id or ""
    later = ToolChatEngine(
        "s", model=FunctionModel(lambda m, i: "ok"), db=store, bus=bus, conversation_id=stored
    )
    assert later.system_prompt == "Pirate."  # not the default
    told = ToolChatEngine(
        "s",
        model=FunctionModel(lambda m, i: "ok"),
        db=store,
        bus=bus,
        conversation_id=stored,
        system_prompt="Be brief.",
    )
    assert told.system_prompt == "Be brief." and store.get(stored).system_prompt == "Be brief."
    told.set_system_prompt(None)  # removed: it stays removed when continued
    again = ToolChatEngine(
        "s", model=FunctionModel(lambda m, i: "ok"), db=store, bus=bus, conversation_id=stored
    )
    assert again.system_prompt is None
    store.close()


async def test_a_conversation_without_a_system_prompt_is_continued_without_one(
    tmp_path: Path,
) -> None:
    store = ConversationStore(tmp_path / "conversations.db")
    bus = FakeMessageBus()
    first = ToolChatEngine(
        "s", model=FunctionModel(lambda m, i: "ok"), db=store, bus=bus, system_prompt=None
    )
    await first.execute("hello")
    later = ToolChatEngine(
        "s",
        model=FunctionModel(lambda m, i: "ok"),
        db=store,
        bus=bus,
        conversation_id=first.conversation_id,
    )
    assert later.system_prompt is None
    store.close()


async def test_a_failed_first_turn_leaves_no_empty_conversation_and_clear_its_title(
    tmp_path: Path,
) -> None:
    from llmgine.errors import ProviderAuthError

    store = ConversationStore(tmp_path / "conversations.db")
    bus = FakeMessageBus()
    denied = ProviderAuthError("bad key", provider="scripted", model="scripted")
    engine = ToolChatEngine("s", model=ScriptedModel([denied, "hello there"]), db=store, bus=bus)
    assert not (await engine.execute("my first try")).success
    conversation = engine.conversation_id or ""
    with pytest.raises(ConversationNotFoundError):
        store.resolve(conversation)  # no ghost: nothing is stored for it
    assert (await engine.execute("second try")).success
    assert store.get(conversation).title == "second try"  # the same id, made again
    engine.clear_context()
    assert store.get(conversation).title == ""  # the next message names it
    store.close()


async def test_closing_an_engine_closes_the_store_it_opened(tmp_path: Path) -> None:
    engine = ToolChatEngine(  # memory=True: its store is opened from db= (the hash embedder)
        "s",
        model=FunctionModel(lambda m, i: "ok"),
        db=tmp_path / "c.db",
        memory=True,
        bus=FakeMessageBus(),
    )
    await engine.execute("hello")
    store = engine.context.store  # type: ignore[attr-defined]
    await engine.close()
    with pytest.raises(Exception, match="closed"):
        store.list_conversations()
