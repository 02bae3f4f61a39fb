"""Stored conversations in the web front end: each tab stores one, a tab opens one by id.

A tab's engine keeps its conversation in a real SQLite store; a tab that asks
for one (``/ws?conversation=ID``, what the page sends for ``/?conversation=ID``)
continues it: its earlier messages are shown and sent to the model. A
conversation open in one tab is taken over, never written by two engines.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient
from starlette.websockets import WebSocketDisconnect
from web_helpers import (
    BASE_URL,
    ORIGIN,
    TOKEN,
    WS_URL,
    get_weather,
    receive,
    receive_until,
)

from llmgine.bus.bus import MessageBus
from llmgine.context.conversations import ConversationStore
from llmgine.engines.tool_chat_engine import ToolChatEngine
from llmgine.testing import ScriptedModel
from llmgine.tools.tool_call import ToolCall
from llmgine.web import WebSettings, create_app
from llmgine.web.history import transcript

Message = dict[str, Any]


class StoredEngines:
    """A factory of tool-chat engines that store their conversations in one store."""

    def __init__(self, store: ConversationStore, replies: list[Any] | None = None) -> None:
        self.store = store
        call = ToolCall(id="c1", name="get_weather", arguments='{"city": "Perth"}')
        self.replies = replies or [call, "It is sunny in Perth."]
        self.models: list[ScriptedModel] = []

    async def __call__(self, session_id: str, conversation_id: str | None = None) -> Any:
        model = ScriptedModel(self.replies)
        self.models.append(model)
        engine = ToolChatEngine(
            session_id=session_id,
            model=model,
            stream=True,
            db=self.store,
            conversation_id=conversation_id,
        )
        await engine.register_tools(get_weather)
        return engine


@pytest.fixture
def store(tmp_path: Path) -> Iterator[ConversationStore]:
    with ConversationStore(tmp_path / "conversations.db") as opened:
        yield opened


def client_for(tmp_path: Path, factory: Any, store: ConversationStore | None) -> TestClient:
    settings = WebSettings(token=TOKEN, log_dir=tmp_path / "logs")
    return TestClient(create_app(factory, settings, conversations=store), base_url=BASE_URL)


def connect(client: TestClient, query: str = "") -> Any:
    if not client.cookies:
        assert client.get(f"/?token={TOKEN}").status_code == 200
    return client.websocket_connect(WS_URL + query, headers={"origin": ORIGIN})


def ask(ws: Any, text: str, seen: list[Message] | None = None) -> Message:
    ws.send_json({"type": "prompt", "text": text})
    return receive_until(ws, lambda m: m["kind"] == "turn" and m["state"] != "started", seen)


def first_conversation(tmp_path: Path, store: ConversationStore) -> str:
    """One tab's conversation about the weather, stored; its id."""
    with client_for(tmp_path, StoredEngines(store), store) as client, connect(client) as ws:
        hello = receive(ws)
        conversation_id = hello["state"]["conversation_id"]
        assert conversation_id
        finished = ask(ws, "Weather in Perth?")
        assert finished["success"] and finished["result"] == "It is sunny in Perth."
        listed = client.get("/api/conversations").json()
    assert listed["stored"] is True and listed["path"] == str(store.path)
    (info,) = listed["conversations"]
    assert info["id"] == conversation_id and info["title"] == "Weather in Perth?"
    assert info["message_count"] == 4  # user, assistant's call, the tool's result, the answer
    return str(conversation_id)


def test_a_tab_continues_a_stored_conversation_by_its_id(
    web_bus: MessageBus, tmp_path: Path, store: ConversationStore
) -> None:
    conversation_id = first_conversation(tmp_path, store)
    # A new server (the first one stopped): the page asks for the conversation by its start.
    engines = StoredEngines(store, ["Yes, still sunny."])
    with (
        client_for(tmp_path, engines, store) as client,
        connect(client, f"?conversation={conversation_id[:8]}") as ws,
    ):
        hello = receive(ws)
        assert hello["resumed"] is False and hello["conversation"] == conversation_id[:8]
        assert hello["state"]["conversation_id"] == conversation_id
        seen: list[Message] = []
        history = receive_until(ws, lambda m: m["kind"] == "history", seen)
        assert history["conversation_id"] == conversation_id and history["omitted"] == 0
        assert [item["role"] for item in history["items"]] == [
            "user",
            "assistant",
            "tool",
            "assistant",
        ]
        assert history["items"][1]["tool_calls"] == [
            {"name": "get_weather", "arguments": '{"city": "Perth"}'}
        ]
        assert history["items"][2] == {
            "role": "tool",
            "name": "get_weather",
            "text": "Perth: sunny, 21 °C",
        }
        assert history["items"][3]["text"] == "It is sunny in Perth."
        finished = ask(ws, "And now?")
        assert finished["success"] and finished["result"] == "Yes, still sunny."
    sent = engines.models[0].requests[-1].messages
    assert [m["role"] for m in sent if m["role"] != "system"] == [
        "user",
        "assistant",
        "tool",
        "assistant",
        "user",
    ]
    assert store.get(conversation_id).message_count == 6


def test_a_conversation_open_in_one_tab_is_taken_over_by_the_next(
    web_bus: MessageBus, tmp_path: Path, store: ConversationStore
) -> None:
    engines = StoredEngines(store)
    with client_for(tmp_path, engines, store) as client, connect(client) as first:
        hello = receive(first)
        conversation_id = hello["state"]["conversation_id"]
        assert ask(first, "Weather in Perth?")["success"]
        with connect(client, f"?conversation={conversation_id.upper()}") as second:
            taken = receive(second)
            assert taken["resumed"] is True and taken["session_id"] == hello["session_id"]
            assert taken["since"] == 0  # the whole session: its turn is replayed to this tab
            replayed = receive_until(
                second, lambda m: m["kind"] == "turn" and m["state"] == "finished"
            )
            assert replayed["result"] == "It is sunny in Perth."
            with pytest.raises(WebSocketDisconnect) as closed:
                receive_until(first, lambda m: False)
            assert closed.value.code == 4409
    assert len(engines.models) == 1  # one engine wrote the conversation, never two


def test_new_starts_a_stored_conversation_and_keeps_the_old(
    web_bus: MessageBus, tmp_path: Path, store: ConversationStore
) -> None:
    with client_for(tmp_path, StoredEngines(store), store) as client, connect(client) as ws:
        old = receive(ws)["state"]["conversation_id"]
        assert ask(ws, "Weather in Perth?")["success"]
        ws.send_json({"type": "new"})
        seen: list[Message] = []
        started = receive_until(ws, lambda m: m["kind"] == "new_conversation", seen)
        new = started["conversation_id"]
        assert new and new != old
        notice = receive_until(ws, lambda m: m["kind"] == "notice", seen)
        assert notice["text"] == f"New conversation {new}; {old} stays stored."
        state = receive_until(ws, lambda m: m["kind"] == "state", seen)
        assert state["conversation_id"] == new and state["supports"]["new"] is True
    assert store.get(old).message_count == 4


def test_a_conversation_that_is_not_stored_is_an_error_on_the_page(
    web_bus: MessageBus, tmp_path: Path, store: ConversationStore
) -> None:
    with (
        client_for(tmp_path, StoredEngines(store), store) as client,
        connect(client, "?conversation=nosuch") as ws,
    ):
        fatal = receive(ws)
        assert fatal["kind"] == "fatal" and "nosuch" in fatal["error"]
        with pytest.raises(WebSocketDisconnect) as closed:
            receive(ws)
        assert closed.value.code == 4500
    assert store.list_conversations() == []  # nothing was made for it


def test_a_server_that_stores_nothing_says_so(web_bus: MessageBus, tmp_path: Path) -> None:
    async def in_memory(session_id: str) -> ToolChatEngine:  # takes no conversation id
        return ToolChatEngine(session_id=session_id, model=ScriptedModel(["hi"]))

    with client_for(tmp_path, in_memory, None) as client:
        with connect(client) as ws:
            state = receive(ws)["state"]
            assert state["conversation_id"] is None
        assert client.get("/api/conversations").json() == {"stored": False, "conversations": []}
        with connect(client, "?conversation=abc") as ws:
            fatal = receive(ws)
            assert fatal["kind"] == "fatal"
            assert fatal["error"].startswith("this server keeps no stored conversations")


def test_the_page_is_shown_what_a_conversation_holds() -> None:
    messages = [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": [{"type": "text", "text": "Look"}, {"type": "image_url"}]},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [{"id": "1", "function": {"name": "f", "arguments": "{}"}}],
        },
        {"role": "tool", "tool_call_id": "1", "name": "f", "content": "x" * 5000},
        {"role": "assistant", "content": "Done."},
    ]
    shown = transcript(messages)
    assert shown["omitted"] == 0
    assert shown["items"][0] == {"role": "user", "text": "Look"}  # the text parts
    assert shown["items"][1] == {
        "role": "assistant",
        "text": "",
        "tool_calls": [{"name": "f", "arguments": "{}"}],
    }
    assert len(shown["items"][2]["text"]) == 2000 and shown["items"][2]["text"].endswith("…")
    last_two = transcript(messages, limit=2)
    assert last_two["omitted"] == 2 and last_two["items"][-1]["text"] == "Done."
