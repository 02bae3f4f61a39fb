"""The ``llmgine web`` command: its options, its usage errors, and the real server it runs."""

from __future__ import annotations

import asyncio
import json
import re
import signal
import socket
import sys
from pathlib import Path
from typing import Any

import httpx2 as httpx
import pytest
from server_process import ROOT, WebServer, run_llmgine
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

WEATHER = str(ROOT / "tools" / "weather.py")


def options(help_text: str) -> set[str]:
    return set(re.findall(r"(?<![\w-])--[a-z][a-z-]*", help_text))


def test_the_command_takes_the_chat_options_and_where_to_listen(tmp_path: Path) -> None:
    listed = run_llmgine(["--help"], tmp_path)
    assert re.search(r"^\s+web\s", listed.stdout, re.MULTILINE)
    proc = run_llmgine(["web", "--help"], tmp_path)
    assert proc.returncode == 0, proc.stderr
    found = options(proc.stdout)
    assert {"--engine", "--model", "--tools", "--system", "--log-dir", "--timeout"} <= found
    assert {"--host", "--port", "--approval-timeout", "--idle-timeout"} <= found
    assert {"--member", "--arbiter", "--strategy"} <= found  # for --engine consortium
    assert "--prompt" not in found  # a server answers in the page, not once
    assert "127.0.0.1" in proc.stdout
    assert run_llmgine(["web", "--version"], tmp_path).stdout.startswith("llmgine ")


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--model", "nosuch:thing"], "unknown provider 'nosuch'"),
        (["--tools", "no/such/tools.py"], "no/such/tools.py"),
        (["--engine", "single", "--tools", WEATHER], "--tools needs --engine tool_chat"),
        (["--engine", "consortium", "--model", "demo"], "--model does not apply"),
        (["--member", "demo"], "--member and --arbiter need --engine consortium"),
        (["--engine", "consortium", "--option", "bogus"], "expected NAME=VALUE"),
        (["--engine", "single", "--mcp", "python server.py"], "--mcp needs --engine tool_chat"),
        (["--engine", "consortium", "--mcp-url", "http://x/mcp"], "--mcp-url does not apply"),
        (["--mcp-config", "no/such/config.json"], "no/such/config.json"),
        (["--conversation", "nosuch"], "no conversation in "),
        (["--engine", "consortium", "--continue"], "--continue: consortium keeps no stored"),
        (["--engine", "single", "--memory"], "--memory: single keeps no stored"),
        (
            ["--redis", "redis://127.0.0.1:1/0", "--conversation", "x"],
            "--conversation: with --redis",
        ),
        (["--db", "."], "is a folder"),
    ],
)
def test_usage_errors_are_one_line_and_exit_2(tmp_path: Path, args: list[str], says: str) -> None:
    proc = run_llmgine(["web", "--port", "0", *args], tmp_path)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert proc.stderr.startswith("error: ") and says in proc.stderr
    assert "Traceback" not in proc.stderr and proc.stdout == ""


def test_a_port_in_use_is_a_usage_error(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        proc = run_llmgine(["web", "--port", str(port)], tmp_path)
    assert proc.returncode == 2
    assert proc.stderr.startswith(f"error: cannot listen on 127.0.0.1:{port}")


@pytest.mark.parametrize(("stop", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
async def test_the_server_serves_the_page_and_a_conversation(
    tmp_path: Path, stop: int, code: int
) -> None:
    """Uvicorn, the token and a turn over a real WebSocket (the browser test does more).

    Ctrl-C (and SIGTERM) end it cleanly: the log is whole, there is no traceback.
    """
    with WebServer(["--tools", WEATHER, "--log-dir", str(tmp_path / "logs")], tmp_path) as server:
        assert server.url.startswith("http://127.0.0.1:")
        async with httpx.AsyncClient(
            base_url=server.base, timeout=30, follow_redirects=True
        ) as client:
            assert (await client.get("/")).status_code == 403
            opened = await client.get(f"/?token={server.token}")
            assert opened.status_code == 200 and "app.js" in opened.text
            cookie = "; ".join(f"{k}={v}" for k, v in client.cookies.items())
        ws_url = server.base.replace("http", "ws") + "/ws"
        async with asyncio.timeout(60):
            with pytest.raises(InvalidStatus) as refused:
                async with connect(ws_url, origin=server.base):  # type: ignore[arg-type]
                    pass
            assert refused.value.response.status_code == 403
            async with page_socket(ws_url, server.base, cookie) as ws:
                hello = json.loads(await ws.recv())
                assert hello["kind"] == "hello" and hello["state"]["model"] == "demo"
                await ws.send(json.dumps({"type": "prompt", "text": "Weather in Perth?"}))
                finished = await _until(
                    ws, lambda m: m["kind"] == "turn" and m["state"] != "started"
                )
        assert finished["result"].startswith("[offline demo] get_weather says: Perth: ")
        assert server.stop(stop) == code  # 130 after Ctrl-C, as the chat's
        stderr = "".join(server.stderr)  # read to its end now
        assert "offline demo model" in stderr and "Traceback" not in stderr
    (log,) = (tmp_path / "logs").glob("*.jsonl")
    logged = log.read_text()
    assert "ToolExecuteResultEvent" in logged  # flushed when the bus stopped
    assert logged.rstrip().splitlines()[-1].startswith('{"event_type":"SessionEndEvent"')


def page_socket(url: str, origin: str, cookie: str) -> Any:
    """A WebSocket as the page opens it: from the server's origin, with its token's cookie."""
    return connect(url, origin=origin, additional_headers={"cookie": cookie})  # type: ignore[arg-type]


async def _until(ws: Any, predicate: Any) -> dict[str, Any]:
    while True:
        message = json.loads(await ws.recv())
        if predicate(message):
            return message  # type: ignore[no-any-return]


def test_the_wheel_ships_the_page_and_its_assets(tmp_path: Path) -> None:
    import subprocess
    import sys
    import zipfile

    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation"]
        + ["--no-index", "-q", "-w", str(tmp_path), str(ROOT)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert built.returncode == 0, built.stderr
    (wheel,) = tmp_path.glob("llmgine-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    static = "llmgine/web/static/"
    for asset in ("index.html", "style.css", "js/app.js", "js/chat.js", "js/dom.js"):
        assert static + asset in names, asset
    assert {static + "js/trace.js", static + "vendor/markdown-it.min.js"} <= names
    assert static + "vendor/markdown-it.LICENSE.txt" in names


async def test_each_tab_starts_and_stops_mcp_servers_of_its_own(tmp_path: Path) -> None:
    from llmgine.cli.main import build_parser
    from llmgine.cli.web_command import WebEngines

    serve = f"{Path(sys.executable).with_name('llmgine')} mcp serve {WEATHER}"
    args = build_parser().parse_args(["web", "--model", "test", "--mcp", serve])
    engines = WebEngines(args)
    first, second = await engines.create("tab-1"), await engines.create("tab-2")
    try:
        for engine in (first, second):
            manager = engine.tool_manager  # type: ignore[attr-defined]
            assert {"get_weather", "get_forecast"} <= set(manager.tools)
        (one,) = first.tool_manager.mcp_servers  # type: ignore[attr-defined]
        (two,) = second.tool_manager.mcp_servers  # type: ignore[attr-defined]
        assert one is not two and one.connected and two.connected
    finally:
        await first.close()  # type: ignore[attr-defined]
        await second.close()  # type: ignore[attr-defined]
    assert not one.connected and not two.connected


async def test_continue_opens_the_latest_stored_conversation_in_the_printed_url(
    tmp_path: Path,
) -> None:
    """A chat stores its conversation; ``llmgine web --continue`` prints a URL that opens it."""
    db = str(tmp_path / "conversations.db")
    chat = run_llmgine(
        ["chat", "--tools", WEATHER, "--db", db, "--prompt", "Weather in Perth?"], tmp_path
    )
    assert chat.returncode == 0, chat.stderr
    from llmgine.context.conversations import ConversationStore

    with ConversationStore(db) as store:
        latest = store.latest()
    assert latest is not None
    with WebServer(["--tools", WEATHER, "--db", db, "--continue"], tmp_path) as server:
        assert server.url.endswith(f"&conversation={latest.id}")
        assert f"Conversations are stored in {db}." in "".join(server.stdout)
        async with httpx.AsyncClient(base_url=server.base, timeout=30) as client:
            opened = await client.get(server.url.removeprefix(server.base))
            assert opened.headers["location"] == f"/?conversation={latest.id}"  # token out
            cookie = "; ".join(f"{k}={v}" for k, v in client.cookies.items())
            listed = (await client.get("/api/conversations")).json()
        assert [c["id"] for c in listed["conversations"]] == [latest.id]
        ws_url = server.base.replace("http", "ws") + f"/ws?conversation={latest.id}"
        async with asyncio.timeout(60):
            async with page_socket(ws_url, server.base, cookie) as ws:
                hello = json.loads(await ws.recv())
                assert hello["state"]["conversation_id"] == latest.id
                history = await _until(ws, lambda m: m["kind"] == "history")
                assert history["items"][0] == {"role": "user", "text": "Weather in Perth?"}
                await ws.send(json.dumps({"type": "prompt", "text": "And in Oslo?"}))
                finished = await _until(
                    ws, lambda m: m["kind"] == "turn" and m["state"] != "started"
                )
        assert finished["success"], finished
    with ConversationStore(db) as store:
        assert store.get(latest.id).message_count > latest.message_count
