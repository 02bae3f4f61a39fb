"""A browser tab's session on the bus: turns, streaming, approvals, Stop, controls, secrets."""

from __future__ import annotations

import asyncio
import json

import pytest
from web_helpers import SECRET, Gate, Reader, delete_note, event, get_weather, kind, reveal

from llmgine.bus.bus import MessageBus
from llmgine.cli.consortium import offline_consortium
from llmgine.engines.consortium import ConsortiumEngine
from llmgine.engines.tool_chat_engine import ToolChatEngine
from llmgine.observability.redaction import Redactor
from llmgine.testing import FunctionModel, ScriptedModel
from llmgine.tools.tool_call import ToolCall
from llmgine.web.session import WebSession


async def open_session(
    bus: MessageBus, model: object, tools: tuple[object, ...] = (), **options: object
) -> WebSession:
    engine = ToolChatEngine(session_id="tab-1", model=model, stream=True)  # type: ignore[arg-type]
    if tools:
        await engine.register_tools(*tools)
    session = WebSession("tab-1", engine, bus=bus, **options)  # type: ignore[arg-type]
    await session.open()
    return session


def weather_call(city: str = "Perth") -> ToolCall:
    return ToolCall(id="call_1", name="get_weather", arguments=json.dumps({"city": city}))


async def test_a_turn_streams_its_answer_shows_its_tool_and_finishes(bus: MessageBus) -> None:
    model = ScriptedModel([weather_call(), "It is **sunny** in Perth, 21 °C."])
    session = await open_session(bus, model, (get_weather,))
    reader = Reader(session)
    assert session.submit("What's the weather in Perth?")
    started = await reader.until(kind("turn", state="started"))
    assert started["prompt"] == "What's the weather in Perth?"
    tool_start = await reader.until(event("ToolCallStartedEvent"))
    assert tool_start["event"]["tool_name"] == "get_weather"
    assert tool_start["event"]["trace_id"] == started["turn_id"]
    result = await reader.until(event("ToolExecuteResultEvent"))
    assert result["event"]["result"] == "Perth: sunny, 21 °C"
    finished = await reader.until(kind("turn", state="finished"))
    assert finished["success"] and finished["result"] == "It is **sunny** in Perth, 21 °C."
    assert finished["metadata"]["usage"]["total_tokens"] > 0
    streamed = "".join(e["text"] for e in reader.events("EngineTextDeltaEvent"))
    assert streamed == "It is **sunny** in Perth, 21 °C."
    assert len(reader.events("EngineTextDeltaEvent")) > 3  # word by word, not whole
    # In order, each once (a trace tree replaced by a newer one may be skipped).
    numbers = [m["seq"] for m in reader.seen]
    assert numbers == sorted(set(numbers))
    state = await reader.until(kind("state"))
    assert state["turn_running"] is False and state["tools"] == ["get_weather"]


def latest_trace(session: WebSession, trace_id: str) -> dict[str, object]:
    kept = [json.loads(text) for _, text in session.outbox.after(0)[0]]
    trees = [m for m in kept if m["kind"] == "trace" and m["trace_id"] == trace_id]
    assert len(trees) == 1  # only the newest tree of a trace is kept for a reconnect
    (command,) = [root for root in trees[0]["roots"] if root["kind"] == "command"]
    return command  # type: ignore[no-any-return]


async def test_the_trace_of_a_turn_grows_live_into_its_tree(bus: MessageBus) -> None:
    gate = Gate()
    slow = ToolCall(id="c1", name="slow_report", arguments='{"topic": "q3"}')
    session = await open_session(bus, ScriptedModel([slow, "Done."]), (gate.tool(),))
    reader = Reader(session)
    session.submit("slow report")
    turn = await reader.until(kind("turn", state="started"))
    async with asyncio.timeout(30):
        await gate.started.wait()
    running = latest_trace(session, turn["turn_id"])
    assert running["status"] == "running" and running["duration_s"] is None
    assert [(c["kind"], c["status"]) for c in running["children"]] == [
        ("model", "ok"),
        ("tool", "running"),
    ]
    gate.release.set()
    await reader.until(kind("turn", state="finished"))
    command = latest_trace(session, turn["turn_id"])
    assert command["status"] == "ok" and command["duration_s"] is not None
    assert command["title"] == "ToolChatEngineCommand" and command["detail"] == '"slow report"'
    assert [child["kind"] for child in command["children"]] == ["model", "tool", "model"]
    model_call, tool_call, last = command["children"]
    assert model_call["tokens"] > 0 and model_call["result"] == "calls slow_report"
    assert tool_call["title"] == "slow_report" and tool_call["result"] == "report on q3"
    assert tool_call["duration_s"] >= 0 and last["result"] == '"Done."'
    assert command["totals"]["model_calls"] == 2 and command["totals"]["tool_calls"] == 1


async def test_an_approval_answered_in_the_page_lets_the_tool_run(bus: MessageBus) -> None:
    model = ScriptedModel([ToolCall(id="c1", name="delete_note", arguments='{"name": "x"}'), "ok"])
    session = await open_session(bus, model, (delete_note,))
    reader = Reader(session)
    session.submit("delete note x")
    asked = await reader.until(kind("approval"))
    assert asked["tool_name"] == "delete_note" and asked["arguments"] == {"name": "x"}
    assert session.pending_approvals == [asked["id"]]
    assert session.answer_approval(asked["id"], True)
    done = await reader.until(kind("approval_done"))
    assert done["outcome"] == "allowed"
    result = await reader.until(event("ToolExecuteResultEvent"))
    assert result["event"]["result"] == "deleted x" and not result["event"]["is_error"]
    assert not session.answer_approval(asked["id"], False)  # answered already


async def test_a_denied_approval_does_not_run_the_tool(bus: MessageBus) -> None:
    model = ScriptedModel([ToolCall(id="c1", name="delete_note", arguments='{"name": "x"}'), "ok"])
    session = await open_session(bus, model, (delete_note,))
    reader = Reader(session)
    session.submit("delete note x")
    asked = await reader.until(kind("approval"))
    await session.handle({"type": "approve", "id": asked["id"], "allow": False})
    result = await reader.until(event("ToolExecuteResultEvent"))
    assert result["event"]["is_error"] and result["event"]["error_type"] == "declined"


async def test_an_unanswered_approval_times_out_and_is_denied(bus: MessageBus) -> None:
    model = ScriptedModel([ToolCall(id="c1", name="delete_note", arguments='{"name": "x"}'), "ok"])
    session = await open_session(bus, model, (delete_note,), approval_timeout=0.2)
    reader = Reader(session)
    session.submit("delete note x")
    asked = await reader.until(kind("approval"))
    assert asked["timeout_s"] == 0.2
    done = await reader.until(kind("approval_done"))
    assert done == {**done, "id": asked["id"], "outcome": "timeout"}
    result = await reader.until(event("ToolExecuteResultEvent"))
    assert result["event"]["is_error"] and result["event"]["error_type"] == "declined"
    assert "no answer within 0.2 s" in result["event"]["result"]
    finished = await reader.until(kind("turn", state="finished"))
    assert finished["success"]  # the model was told, and answered
    assert session.pending_approvals == []


async def test_stop_cancels_the_running_turn_and_the_conversation_goes_on(
    bus: MessageBus,
) -> None:
    gate = Gate()
    slow = ToolCall(id="c1", name="slow_report", arguments='{"topic": "q3"}')
    model = ScriptedModel([slow, "the second answer"])
    session = await open_session(bus, model, (gate.tool(),))
    reader = Reader(session)
    session.submit("slow report please")
    await reader.until(event("ToolCallStartedEvent"))
    async with asyncio.timeout(30):
        await gate.started.wait()
    assert session.turn_running
    await session.handle({"type": "stop"})
    cancelled = await reader.until(kind("turn"))
    assert cancelled["state"] == "cancelled"
    assert gate.cancelled and not session.turn_running
    tree = latest_trace(session, cancelled["turn_id"])
    assert tree["status"] == "cancelled" and tree["children"][-1]["status"] == "cancelled"
    assert session.engine.context.chat_history == []  # type: ignore[attr-defined]
    session.submit("and now?")
    finished = await reader.until(kind("turn", state="finished"))
    assert finished["result"] == "the second answer"
    await session.handle({"type": "stop"})
    assert (await reader.until(kind("notice")))["text"] == "Nothing to stop."


async def test_stop_while_an_approval_waits_cancels_the_approval(bus: MessageBus) -> None:
    model = ScriptedModel([ToolCall(id="c1", name="delete_note", arguments='{"name": "x"}')])
    session = await open_session(bus, model, (delete_note,))
    reader = Reader(session)
    session.submit("delete note x")
    await reader.until(kind("approval"))
    assert await session.stop()
    assert (await reader.until(kind("approval_done")))["outcome"] == "cancelled"
    assert (await reader.until(kind("turn")))["state"] == "cancelled"


async def test_one_turn_at_a_time(bus: MessageBus) -> None:
    gate = Gate()
    model = ScriptedModel([ToolCall(id="c1", name="slow_report", arguments='{"topic": "a"}')])
    session = await open_session(bus, model, (gate.tool(),))
    reader = Reader(session)
    assert session.submit("first")
    assert not session.submit("second")
    assert "A turn is running" in (await reader.until(kind("notice")))["text"]
    await session.close()


async def test_controls_clear_model_system_and_cost(bus: MessageBus) -> None:
    session = await open_session(bus, ScriptedModel(["one", "two"]))
    reader = Reader(session)
    session.submit("hello")
    await reader.until(kind("turn", state="finished"))
    assert len(session.engine.context.chat_history) == 2  # type: ignore[attr-defined]
    await session.handle({"type": "cost"})
    cost = await reader.until(kind("notice"))
    assert cost["text"].startswith("Session: ") and "tokens" in cost["text"]
    await session.handle({"type": "clear"})
    await reader.until(kind("cleared"))
    assert session.engine.context.chat_history == []  # type: ignore[attr-defined]
    await session.handle({"type": "system", "prompt": "Be brief."})
    state = await reader.until(kind("state", system_prompt="Be brief."))
    assert state["supports"] == {
        "clear": True,
        "new": True,
        "model": True,
        "system": True,
        "cost": True,
    }
    await session.handle({"type": "system", "prompt": None})
    await reader.until(kind("state", system_prompt=None))
    await session.handle({"type": "model", "model": "test:other"})
    assert (await reader.until(kind("state")))["model"] == "test:other"
    await session.handle({"type": "model", "model": "nosuch:thing"})
    error = await reader.until(kind("notice", level="error"))
    assert "unknown provider 'nosuch'" in error["text"]
    await session.handle({"type": "model", "model": "openai:gpt-4.1-mini"})
    await reader.until(kind("notice", level="warning"))  # its key is not set here
    await session.handle({"type": "launch-missiles"})
    assert "Unknown request" in (await reader.until(kind("notice", level="error")))["text"]
    await session.handle("not a dict")
    await reader.until(kind("notice", level="error"))


async def test_controls_an_engine_lacks_are_refused(bus: MessageBus) -> None:
    members, arbiter = offline_consortium()
    engine = ConsortiumEngine(members, arbiter, session_id="tab-c")
    session = WebSession("tab-c", engine, bus=bus)
    await session.open()
    reader = Reader(session)
    state = await reader.until(kind("state"))
    assert state["supports"]["model"] is False and state["consortium"]["strategy"] == "arbiter"
    assert [m["label"] for m in state["consortium"]["members"]] == ["Member A", "Member B"]
    await session.handle({"type": "model", "model": "demo"})
    assert "not supported by ConsortiumEngine" in (await reader.until(kind("notice")))["text"]


async def test_a_consortium_turn_sends_members_rounds_and_the_final_answer(
    bus: MessageBus,
) -> None:
    members, arbiter = offline_consortium()
    engine = ConsortiumEngine(members, arbiter, session_id="tab-c", seed=1)
    session = WebSession("tab-c", engine, bus=bus)
    await session.open()
    reader = Reader(session)
    session.submit("How do I pick a database?")
    finished = await reader.until(kind("turn", state="finished"))
    answered = [e for e in reader.events("ConsortiumMemberEvent") if e["state"] == "answered"]
    assert sorted(e["label"] for e in answered) == ["Member A", "Member B"]
    rounds = reader.events("ConsortiumIterationEvent")
    assert rounds and rounds[0]["confidence"] == 0.9
    assert finished["success"] and "A fuller answer" in finished["result"]
    assert finished["metadata"]["strategy"] == "arbiter" and finished["metadata"]["confidence"]


async def test_no_secret_reaches_the_page(bus: MessageBus) -> None:
    call = ToolCall(id="c1", name="reveal", arguments=json.dumps({"name": SECRET}))
    answer = f"Your key is sk-proj-ABCDEFGHIJKLMNOPQRSTUVWX1234 and {SECRET}."
    model = ScriptedModel([call, answer])
    redactor = Redactor([SECRET])
    session = await open_session(bus, model, (reveal,), redactor=redactor)
    reader = Reader(session)
    session.submit(f"show {SECRET}")
    finished = await reader.until(kind("turn", state="finished"))
    everything = "\n".join(text for _, text in session.outbox.after(0)[0])
    assert "sk-proj-ABCDEFGHIJKLMNOPQRSTUVWX1234" not in everything
    assert SECRET not in everything
    assert finished["result"] == "Your key is *** and ***."
    assert "***" in reader.events("ToolExecuteResultEvent")[0]["result"]


async def test_a_secret_split_across_stream_pieces_is_still_masked(bus: MessageBus) -> None:
    pieces = ["The key: sk-pro", "j-ABCDEFGHIJ", "KLMNOPQRSTUV1234", " and Bearer "]
    pieces += ["abcdefghijklmnop1234", " now."]
    model = FunctionModel(lambda messages, info: "".join(pieces), stream_fn=lambda m, i: pieces)
    session = await open_session(bus, model)
    reader = Reader(session)
    session.submit("key?")
    await reader.until(kind("turn", state="finished"))
    shown = [e["text"] for e in reader.events("EngineTextDeltaEvent")]
    assert "".join(shown) == "The key: *** and Bearer *** now."
    assert not any("sk-pro" in text or "abcdefgh" in text for text in shown)


async def test_closing_a_session_ends_its_turn_and_its_handlers(bus: MessageBus) -> None:
    gate = Gate()
    model = ScriptedModel([ToolCall(id="c1", name="slow_report", arguments='{"topic": "a"}')])
    session = await open_session(bus, model, (gate.tool(),))
    session.submit("slow")
    async with asyncio.timeout(30):
        await gate.started.wait()
    await session.close()
    assert gate.cancelled and session.outbox.closed
    assert bus.unregister_session_handlers("tab-1") == 0  # none left
    assert not session.submit("more")


@pytest.mark.parametrize(
    ("pieces", "shown"),
    [
        (["hello wor", "ld and more"], ["hello ", "world and ", "more"]),
        (["Bearer", " abcdefghijklmnop1234 x"], ["", "Bearer *** ", "x"]),
        (["a" * 70_000], ["a" * 70_000, ""]),
    ],
)
def test_stream_masker_lets_whole_words_through(pieces: list[str], shown: list[str]) -> None:
    from llmgine.web.payload import StreamMasker

    masker = StreamMasker(Redactor(use_environment=False))
    out = [masker.feed(piece) for piece in pieces] + [masker.flush()]
    assert [text for text in out if text] == [text for text in shown if text]


async def test_thinking_is_streamed_apart_from_the_answer(bus: MessageBus) -> None:
    from llmgine.models.response import LLMResponse, ThinkingPart

    reply = LLMResponse(content="It is 42.", thinking_blocks=[ThinkingPart("Six times seven.")])
    session = await open_session(bus, ScriptedModel([reply]))
    reader = Reader(session)
    session.submit("What is six times seven?")
    finished = await reader.until(kind("turn", state="finished"))
    thinking = "".join(e["text"] for e in reader.events("EngineThinkingDeltaEvent"))
    assert thinking == "Six times seven."
    assert "".join(e["text"] for e in reader.events("EngineTextDeltaEvent")) == "It is 42."
    assert finished["result"] == "It is 42."
