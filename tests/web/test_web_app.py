"""The web front end over HTTP and WebSocket, with Starlette's TestClient.

The token, the Host and Origin checks, sessions per tab (isolated, resumed
after a drop with what they missed, taken over by a second connection),
Stop, approvals, the log files' endpoint (nothing outside the log
directory) and secrets (none reaches the page).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient
from starlette.websockets import WebSocketDisconnect
from web_helpers import (
    BASE_URL,
    ORIGIN,
    SECRET,
    TOKEN,
    WS_URL,
    Gate,
    delete_note,
    engine_factory,
    get_weather,
    receive,
    receive_until,
    reveal,
)

from llmgine.bus.bus import MessageBus
from llmgine.observability.redaction import Redactor
from llmgine.testing import ScriptedModel
from llmgine.tools.tool_call import ToolCall
from llmgine.web import WebSettings, create_app

Message = dict[str, Any]


def weather_replies() -> list[object]:
    call = ToolCall(id="c1", name="get_weather", arguments='{"city": "Perth"}')
    return [call, "It is sunny in Perth."] * 5


def client_for(tmp_path: Path, factory: Any = None, **settings: Any) -> TestClient:
    factory = factory or engine_factory(lambda: ScriptedModel(weather_replies()), [get_weather])
    options = {"token": TOKEN, "log_dir": tmp_path / "logs", **settings}
    app = create_app(factory, WebSettings(**options), redactor=Redactor([SECRET]))
    return TestClient(app, base_url=BASE_URL)


def connect(client: TestClient, query: str = "", **headers: str) -> Any:
    """A WebSocket of a page: the token's cookie (from opening the page) and this origin."""
    if not client.cookies:
        assert client.get(f"/?token={TOKEN}").status_code == 200
    return client.websocket_connect(WS_URL + query, headers={"origin": ORIGIN, **headers})


def ask(ws: Any, text: str, seen: list[Message] | None = None) -> Message:
    ws.send_json({"type": "prompt", "text": text})
    return receive_until(ws, lambda m: m["kind"] == "turn" and m["state"] != "started", seen)


# -- the token, Host and Origin ---------------------------------------------------------------


def test_every_request_needs_the_token(web_bus: MessageBus, tmp_path: Path) -> None:
    with client_for(tmp_path) as client:
        for path in ("/", "/static/js/app.js", "/api/logs", "/api/logs/trace?run=x", "/?token=no"):
            refused = client.get(path)
            assert refused.status_code == 403, path
            assert "access token" in refused.text and "llmgine web" in refused.text
        opened = client.get(f"/?token={TOKEN}", follow_redirects=False)
        assert opened.status_code == 303 and opened.headers["location"] == "/"
        cookie = opened.headers["set-cookie"]
        assert cookie.startswith(f"llmgine-token-80={TOKEN};")
        assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
        page = client.get("/")  # the cookie from now on
        assert page.status_code == 200
        assert '<script type="module" src="/static/js/app.js">' in page.text
        assert "default-src 'self'" in page.headers["content-security-policy"]
        assert page.headers["x-content-type-options"] == "nosniff"
        for asset in ("js/app.js", "js/chat.js", "style.css", "vendor/markdown-it.min.js"):
            assert client.get(f"/static/{asset}").status_code == 200, asset
    with client_for(tmp_path) as fresh:
        assert fresh.get("/api/logs", headers={"authorization": f"Bearer {TOKEN}"}).is_success
        assert fresh.get("/api/logs", headers={"authorization": "Bearer nope"}).status_code == 403


def test_a_loopback_server_answers_only_loopback_host_names(
    web_bus: MessageBus, tmp_path: Path
) -> None:
    with client_for(tmp_path) as client:
        url = f"/?token={TOKEN}"
        assert client.get(url, headers={"host": "evil.example:8000"}).status_code == 400
        assert client.get(url, headers={"host": "localhost:8000"}).status_code == 200
        assert client.get(url, headers={"host": "[::1]:8000"}).status_code == 200
    with client_for(tmp_path, loopback_only=False) as open_client:
        assert open_client.get(url, headers={"host": "lan-box:8000"}).status_code == 200


@pytest.mark.parametrize(
    ("headers", "token"),
    [
        ({"origin": ORIGIN}, False),  # no token
        ({}, True),  # no Origin
        ({"origin": "http://evil.example"}, True),
        ({"origin": "http://127.0.0.1:9999"}, True),  # another port: another site
        ({"origin": "null"}, True),
    ],
)
def test_the_websocket_needs_the_token_and_the_page_s_origin(
    web_bus: MessageBus, tmp_path: Path, headers: dict[str, str], token: bool
) -> None:
    with client_for(tmp_path) as client:
        if token:
            headers = {**headers, "authorization": f"Bearer {TOKEN}"}
        with pytest.raises(WebSocketDisconnect) as refused:
            with client.websocket_connect(WS_URL, headers=headers):
                pass
        assert refused.value.code == 4403
        assert client.app.state.registry.sessions == {}  # type: ignore[attr-defined]


def test_the_page_s_title_is_escaped(web_bus: MessageBus, tmp_path: Path) -> None:
    with client_for(tmp_path, title="<b>x</b> & co") as client:
        page = client.get(f"/?token={TOKEN}")
        assert "&lt;b&gt;x&lt;/b&gt; &amp; co" in page.text and "<b>x</b>" not in page.text


# -- sessions -----------------------------------------------------------------------------


def test_a_conversation_over_the_websocket(web_bus: MessageBus, tmp_path: Path) -> None:
    with client_for(tmp_path, notices=["offline: demo model"]) as client, connect(client) as ws:
        hello = receive(ws)
        assert hello["kind"] == "hello" and not hello["resumed"] and hello["since"] == 0
        assert hello["session_id"].startswith("web-")
        state = hello["state"]
        assert state["engine"] == "ToolChatEngine" and state["tools"] == ["get_weather"]
        assert state["notices"] == ["offline: demo model"]
        seen: list[Message] = []
        finished = ask(ws, "weather in Perth?", seen)
        assert finished["state"] == "finished" and finished["result"] == "It is sunny in Perth."
        types = [m["type"] for m in seen if m["kind"] == "event"]
        assert "ToolCallStartedEvent" in types and "ToolExecuteResultEvent" in types
        assert "EngineTextDeltaEvent" in types
        ws.send_text("not json")
        assert receive_until(ws, lambda m: m["kind"] == "notice")["level"] == "error"


def test_two_tabs_are_two_separate_sessions(web_bus: MessageBus, tmp_path: Path) -> None:
    with client_for(tmp_path) as client, connect(client) as first, connect(client) as second:
        a, b = receive(first), receive(second)
        assert a["session_id"] != b["session_id"]
        finished = ask(first, "weather in Perth?")
        second.send_json({"type": "cost"})
        heard: list[Message] = []
        receive_until(second, lambda m: m["kind"] == "notice", heard)
        text = json.dumps(heard)
        assert finished["turn_id"] not in text and a["session_id"] not in text
        assert not any(m["kind"] in ("event", "turn", "trace") for m in heard)
        sessions = client.app.state.registry.sessions  # type: ignore[attr-defined]
        assert len(sessions[a["session_id"]].engine.context.chat_history) == 4
        assert sessions[b["session_id"]].engine.context.chat_history == []


def test_a_tab_that_reconnects_gets_exactly_what_it_missed(
    web_bus: MessageBus, tmp_path: Path
) -> None:
    gate = Gate()
    call = ToolCall(id="c1", name="slow_report", arguments='{"topic": "q3"}')
    factory = engine_factory(lambda: ScriptedModel([call, "Here is the report."]), [gate.tool()])
    with client_for(tmp_path, factory) as client:
        first: list[Message] = []
        with connect(client) as ws:
            session_id = receive(ws)["session_id"]
            ws.send_json({"type": "prompt", "text": "slow report"})
            started = receive_until(ws, lambda m: m.get("type") == "ToolCallStartedEvent", first)
        # The connection is gone; the turn goes on without it.
        client.portal.call(gate.release.set)  # type: ignore[union-attr]
        missed: list[Message] = []
        with connect(client, f"?session={session_id}&since={started['seq']}") as ws:
            hello = receive(ws)
            assert hello["resumed"] and hello["session_id"] == session_id
            assert hello["since"] == started["seq"]
            receive_until(ws, lambda m: m["kind"] == "turn" and m["state"] == "finished", missed)
        numbers = [m["seq"] for m in missed]
        assert numbers == sorted(set(numbers)) and numbers[0] > started["seq"]
        assert any(m.get("type") == "ToolExecuteResultEvent" for m in missed)
        assert missed[-1]["result"] == "Here is the report."
        # A reload asks for everything from the start: the turn again, in the same numbers
        # (the state and the trace tree only in their newest form).
        replay: list[Message] = []
        with connect(client, f"?session={session_id}&since=0") as ws:
            assert receive(ws)["since"] == 0
            receive_until(ws, lambda m: m["kind"] == "turn" and m["state"] == "finished", replay)
        by_seq = {m["seq"]: m for m in replay}
        kept = [m for m in first + missed if m["kind"] not in ("trace", "state")]
        assert kept and all(by_seq.get(m["seq"]) == m for m in kept)


def test_a_tab_that_missed_more_than_is_kept_is_told(web_bus: MessageBus, tmp_path: Path) -> None:
    with client_for(tmp_path, outbox_items=4) as client:
        with connect(client) as ws:
            session_id = receive(ws)["session_id"]
            ask(ws, "weather in Perth?")
        with connect(client, f"?session={session_id}&since=1") as ws:
            assert receive(ws)["resumed"]
            assert receive(ws)["kind"] == "gap"


def test_a_second_connection_takes_the_session_over(web_bus: MessageBus, tmp_path: Path) -> None:
    with client_for(tmp_path) as client, connect(client) as first:
        session_id = receive(first)["session_id"]
        with connect(client, f"?session={session_id}") as second:
            assert receive(second)["resumed"]
            with pytest.raises(WebSocketDisconnect) as closed:
                receive_until(first, lambda m: False)
            assert closed.value.code == 4409


def test_an_unknown_session_starts_a_new_one(web_bus: MessageBus, tmp_path: Path) -> None:
    with client_for(tmp_path) as client, connect(client, "?session=web-gone&since=40") as ws:
        hello = receive(ws)
        assert not hello["resumed"] and hello["requested"] == "web-gone"
        assert hello["session_id"] != "web-gone" and hello["since"] == 0


def test_stop_over_the_websocket_cancels_the_turn(web_bus: MessageBus, tmp_path: Path) -> None:
    gate = Gate()
    call = ToolCall(id="c1", name="slow_report", arguments='{"topic": "q3"}')
    factory = engine_factory(lambda: ScriptedModel([call]), [gate.tool()])
    with client_for(tmp_path, factory) as client, connect(client) as ws:
        receive(ws)
        ws.send_json({"type": "prompt", "text": "slow report"})
        receive_until(ws, lambda m: m.get("type") == "ToolCallStartedEvent")
        ws.send_json({"type": "stop"})
        assert receive_until(ws, lambda m: m["kind"] == "turn")["state"] == "cancelled"
        state = receive_until(ws, lambda m: m["kind"] == "state")
        assert state["turn_running"] is False
    assert gate.cancelled


def test_approvals_are_answered_in_the_page_or_time_out(
    web_bus: MessageBus, tmp_path: Path
) -> None:
    def approval_turn() -> list[object]:
        return [ToolCall(id="c1", name="delete_note", arguments='{"name": "todo"}'), "done"] * 2

    factory = engine_factory(lambda: ScriptedModel(approval_turn()), [delete_note])
    with client_for(tmp_path, factory, approval_timeout=0.3) as client, connect(client) as ws:
        receive(ws)
        ws.send_json({"type": "prompt", "text": "delete note todo"})
        asked = receive_until(ws, lambda m: m["kind"] == "approval")
        assert asked["tool_name"] == "delete_note" and asked["timeout_s"] == 0.3
        done = receive_until(ws, lambda m: m["kind"] == "approval_done")
        assert done["outcome"] == "timeout"
        result = receive_until(ws, lambda m: m.get("type") == "ToolExecuteResultEvent")
        assert result["event"]["error_type"] == "declined"
        receive_until(ws, lambda m: m["kind"] == "turn" and m["state"] == "finished")
    with client_for(tmp_path, factory, approval_timeout=60) as client, connect(client) as ws:
        receive(ws)
        ws.send_json({"type": "prompt", "text": "delete note todo"})
        asked = receive_until(ws, lambda m: m["kind"] == "approval")
        ws.send_json({"type": "approve", "id": asked["id"], "allow": True})
        assert receive_until(ws, lambda m: m["kind"] == "approval_done")["outcome"] == "allowed"
        result = receive_until(ws, lambda m: m.get("type") == "ToolExecuteResultEvent")
        assert result["event"]["result"] == "deleted todo"


def test_no_secret_reaches_the_page(web_bus: MessageBus, tmp_path: Path) -> None:
    call = ToolCall(id="c1", name="reveal", arguments=json.dumps({"name": SECRET}))
    answer = f"The key is sk-proj-ABCDEFGHIJKLMNOPQRSTUVWX1234, and {SECRET}."
    factory = engine_factory(lambda: ScriptedModel([call, answer]), [reveal])
    with client_for(tmp_path, factory) as client, connect(client) as ws:
        seen = [receive(ws)]
        finished = ask(ws, f"reveal {SECRET}", seen)
        ws.send_json({"type": "system", "prompt": f"use {SECRET}"})
        seen.append(receive_until(ws, lambda m: m["kind"] == "state"))
    everything = json.dumps(seen)
    assert SECRET not in everything and "sk-proj-ABCDEFGHIJKLMNOPQRSTUVWX1234" not in everything
    assert finished["result"] == "The key is ***, and ***."


# -- the log directory ---------------------------------------------------------------------


def test_the_trace_view_opens_the_logs_and_nothing_outside(
    web_bus: MessageBus, tmp_path: Path
) -> None:
    from llmgine.observability.file import FileEventHandler

    log_dir = tmp_path / "logs"
    log_dir.mkdir()
    handler = FileEventHandler(log_dir)
    web_bus.register_observability_handler(handler)
    outside = tmp_path / "outside.jsonl"
    outside.write_text('{"event_type": "X", "event_id": "1", "note": "TOPSECRET"}\n')
    (log_dir / "notes.txt").write_text("TOPSECRET")
    (log_dir / "link.jsonl").symlink_to(outside)
    with client_for(tmp_path) as client, connect(client) as ws:
        receive(ws)
        ask(ws, "weather in Perth?")
        handler.flush()
        listing = client.get("/api/logs").json()
        assert listing["log_dir"] == str(log_dir)
        (run,) = [r for r in listing["runs"] if r["turns"] == 1]
        assert run["engine"] == "ToolChatEngine" and run["tokens"] > 0
        (name,) = run["files"]
        assert "/" not in name and name.endswith(".jsonl")
        for query in (f"run={run['run']}", f"file={name}"):
            opened = client.get(f"/api/logs/trace?{query}")
            assert opened.status_code == 200, opened.text
            (command,) = [t for t in opened.json()["trees"] if t["kind"] == "command"]
            assert [child["kind"] for child in command["children"]] == ["model", "tool", "model"]
        refused = {
            "file=../outside.jsonl": 403,
            f"file={outside}": 403,
            "file=..%2Foutside.jsonl": 403,
            "file=sub/../../outside.jsonl": 403,
            "file=link.jsonl": 403,  # a link out of the directory
            "file=notes.txt": 403,
            "file=missing.jsonl": 404,
            "run=../outside": 404,
            "": 400,
        }
        for query, status in refused.items():
            answer = client.get(f"/api/logs/trace?{query}")
            assert answer.status_code == status, query
            assert "TOPSECRET" not in answer.text and answer.json()["error"]
    web_bus.unregister_observability_handler(handler)
    handler.close()


def test_a_log_larger_than_the_limit_is_refused(web_bus: MessageBus, tmp_path: Path) -> None:
    log_dir = tmp_path / "logs"
    log_dir.mkdir()
    (log_dir / "big.jsonl").write_text('{"event_type": "X"}\n' * 100)
    with client_for(tmp_path, max_log_bytes=500) as client:
        client.get(f"/?token={TOKEN}")
        answer = client.get("/api/logs/trace?file=big.jsonl")
        assert answer.status_code == 413 and "more than" in answer.json()["error"]


def test_stopping_the_server_ends_every_session(web_bus: MessageBus, tmp_path: Path) -> None:
    client = client_for(tmp_path)
    with client, connect(client) as ws:
        session_id = receive(ws)["session_id"]
        registry = client.app.state.registry  # type: ignore[attr-defined]
        assert registry.connected(session_id)
    assert registry.sessions == {}
    assert web_bus.unregister_session_handlers(session_id) == 0


def test_a_session_that_cannot_start_says_why(web_bus: MessageBus, tmp_path: Path) -> None:
    from llmgine.errors import ConfigurationError

    async def broken(session_id: str) -> Any:
        raise ConfigurationError(f"cannot start: key sk-proj-{'Q' * 24} refused")

    with client_for(tmp_path, broken) as client, connect(client) as ws:
        fatal = receive(ws)
        assert fatal["kind"] == "fatal" and "cannot start" in fatal["error"]
        assert "QQQQ" not in fatal["error"]  # masked
        with pytest.raises(WebSocketDisconnect) as closed:
            receive(ws)
        assert closed.value.code == 4500
