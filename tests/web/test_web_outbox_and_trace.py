"""The numbered messages of a session (kept for a reconnect) and the trace trees as JSON."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from web_helpers import Reader, get_weather, kind

from llmgine.engines.tool_chat_engine import ToolChatEngine
from llmgine.observability.journal import Entry, Journal
from llmgine.testing import ScriptedModel
from llmgine.tools.tool_call import ToolCall
from llmgine.web.outbox import Outbox
from llmgine.web.session import WebSession
from llmgine.web.trace import trees_json
from log_recording import Recording


def texts(items: list[tuple[int, str]]) -> list[dict[str, object]]:
    return [json.loads(text) for _, text in items]


def test_messages_are_numbered_and_read_back_after_a_number() -> None:
    outbox = Outbox()
    for index in range(5):
        assert outbox.append({"n": index}) == index + 1
    items, dropped = outbox.after(3)
    assert [seq for seq, _ in items] == [4, 5] and not dropped
    assert texts(items) == [{"n": 3, "seq": 4}, {"n": 4, "seq": 5}]
    assert outbox.after(5) == ([], False)
    assert outbox.last_seq == 5


def test_the_oldest_go_first_and_a_reader_behind_them_is_told() -> None:
    outbox = Outbox(max_items=3)
    for index in range(6):
        outbox.append({"n": index})
    assert len(outbox) == 3
    items, dropped = outbox.after(1)
    assert [seq for seq, _ in items] == [4, 5, 6] and dropped
    assert outbox.after(3) == (items, False)  # saw everything up to what is kept


def test_the_size_bound_counts_bytes() -> None:
    outbox = Outbox(max_bytes=200)
    for _ in range(10):
        outbox.append({"text": "x" * 50})
    kept, dropped = outbox.after(0)
    assert len(kept) < 10 and dropped
    assert sum(len(text) for _, text in kept) <= 200
    outbox.append({"text": "y" * 1000})  # one message larger than the bound is still kept
    assert texts(outbox.after(0)[0])[-1]["text"] == "y" * 1000


def test_a_keyed_message_replaces_the_earlier_one_of_its_key() -> None:
    outbox = Outbox()
    outbox.append({"tree": 1}, key="trace:a")
    outbox.append({"other": True})
    outbox.append({"tree": 2}, key="trace:a")
    assert texts(outbox.after(0)[0]) == [{"other": True, "seq": 2}, {"tree": 2, "seq": 3}]
    assert not outbox.after(0)[1]  # replaced, not dropped


async def test_waiting_ends_when_a_message_comes_or_the_outbox_closes() -> None:
    outbox = Outbox()
    waiter = asyncio.create_task(outbox.wait(0))
    await asyncio.sleep(0)
    assert not waiter.done()
    outbox.append({"hello": 1})
    async with asyncio.timeout(10):
        await waiter
    closer = asyncio.create_task(outbox.wait(outbox.last_seq))
    await asyncio.sleep(0)
    outbox.close()
    async with asyncio.timeout(10):
        await closer
    await outbox.wait(outbox.last_seq)  # closed: returns at once


async def test_a_log_file_and_the_live_trace_give_the_same_tree(recording: Recording) -> None:
    call = ToolCall(id="c1", name="get_weather", arguments='{"city": "Perth"}')
    engine = ToolChatEngine(session_id="tab", model=ScriptedModel([call, "Sunny."]), stream=True)
    await engine.register_tools(get_weather)
    session = WebSession("tab", engine, bus=recording.bus)
    await session.open()
    reader = Reader(session)
    session.submit("weather in Perth?")
    turn = await reader.until(kind("turn", state="finished"))
    live = [m for m in reader.seen if m["kind"] == "trace" and m["trace_id"] == turn["turn_id"]]
    journal = recording.journal()
    logged = [tree for tree in trees_json(journal) if tree["kind"] == "command"]
    assert len(logged) == 1

    def shape(node: dict[str, object]) -> list[object]:
        children = node["children"]
        assert isinstance(children, list)
        return [node["kind"], node["title"], node["status"], [shape(c) for c in children]]

    (live_command,) = [root for root in live[-1]["roots"] if root["kind"] == "command"]
    assert shape(live_command) == shape(logged[0])
    assert shape(logged[0]) == [
        "command",
        "ToolChatEngineCommand",
        "ok",
        [
            ["model", "scripted", "ok", []],
            ["tool", "get_weather", "ok", []],
            ["model", "scripted", "ok", []],
        ],
    ]
    assert logged[0]["totals"]["tokens"] == live_command["totals"]["tokens"] > 0


def test_trees_leave_out_statuses_and_deltas_and_show_lone_events(tmp_path: Path) -> None:
    def entry(number: int, **data: object) -> Entry:
        return Entry(dict(data), tmp_path / "x.jsonl", number)

    journal = Journal(
        [
            entry(1, event_type="ToolChatEngineStatusEvent", event_id="s1", status="calling"),
            entry(2, event_type="EngineTextDeltaEvent", event_id="d1", text="hi"),
            entry(3, event_type="SomethingElseEvent", event_id="e1", note="kept", parent_id=None),
        ],
        [],
    )
    (tree,) = trees_json(journal)
    assert tree["kind"] == "event" and tree["title"] == "SomethingElseEvent"
    assert '"note": "kept"' in tree["detail"]
