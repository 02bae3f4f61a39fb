"""The log as the record of a run: one trace tree per turn, whole requests, linear size.

Every test runs a real engine on the offline models with a real
``FileEventHandler`` and reads the file back with :class:`Journal`.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from llmgine.engines import (
    SinglePassEngine,
    ToolChatEngine,
    ToolChatEngineCommand,
    use_tool_chat_engine,
)
from llmgine.models.request import LLMRequest, request_hash
from llmgine.models.response import LLMResponse, Usage
from llmgine.observability.journal import Journal, Node, find_runs, is_top_level_command
from llmgine.testing import CallInfo, FunctionModel, ScriptedModel
from llmgine.tools import ToolCall, tool
from log_recording import Recording


@tool
def get_weather(city: str) -> str:
    """Weather for a city.

    Args:
        city: The city.
    """
    return f"{city}: 17 C"


@tool
def broken(city: str) -> str:
    """Always fails.

    Args:
        city: The city.
    """
    raise RuntimeError(f"no weather for {city}")


def weather_then_answer() -> ScriptedModel:
    return ScriptedModel(
        [ToolCall("c1", "get_weather", '{"city": "Perth"}'), "It is 17 C in Perth."]
    )


def turns(journal: Journal) -> list[Node]:
    return [tree for tree in journal.trees() if is_top_level_command(tree.entry)]


def types_under(node: Node) -> list[str]:
    return [n.entry.type for n in node.walk()]


def check_one_tree_per_turn(journal: Journal, expected_turns: int) -> list[Node]:
    """Every event of a turn is in its command's tree, its trace and its session."""
    trees = turns(journal)
    assert len(trees) == expected_turns
    in_trees = {n.entry.id for tree in trees for n in tree.walk()}
    for tree in trees:
        root = tree.entry
        for node in tree.walk():
            assert node.entry.trace_id == root.trace_id
            assert node.entry.get("session_id") == root.get("session_id")
    for entry in journal.entries:  # nothing of a turn is left outside its tree
        if entry.trace_id in {t.entry.trace_id for t in trees}:
            assert entry.id in in_trees
    return trees


async def test_a_direct_execute_is_one_tree_with_its_calls_as_parents(
    recording: Recording,
) -> None:
    engine = ToolChatEngine("s1", model=weather_then_answer(), tools=[get_weather])
    result = await engine.execute("Weather in Perth?")
    assert result.success
    journal = recording.journal()
    (tree,) = check_one_tree_per_turn(journal, 1)
    kinds = types_under(tree)
    assert kinds[0] == "CommandStartedEvent"
    assert kinds.count("LLMCallEvent") == 2 and kinds.count("ToolCallStartedEvent") == 1
    assert "CommandResultEvent" in kinds
    for node in tree.walk():  # answers and results sit under what made them
        if node.entry.type == "LLMCallEvent":
            assert [c.entry.type for c in node.children].count("LLMResponseEvent") == 1
        if node.entry.type == "ToolCallStartedEvent":
            assert [c.entry.type for c in node.children] == ["ToolExecuteResultEvent"]
            assert node.children[0].entry.get("result") == "Perth: 17 C"
    assert all(e.type != "LLMResponseEvent" or e.parent_id for e in journal.entries)


async def test_bus_commands_engine_functions_and_failures_give_one_tree_each(
    recording: Recording,
) -> None:
    engine = ToolChatEngine(
        "s2",
        model=ScriptedModel(
            [ToolCall("c1", "broken", '{"city": "Perth"}'), "Sorry.", "Hello again."]
        ),
        tools=[broken],
    )
    engine.register()
    first = await recording.bus.execute(ToolChatEngineCommand("Weather?", session_id="s2"))
    second = await recording.bus.execute(ToolChatEngineCommand("Hi", session_id="s2"))
    assert first.success and second.success
    assert await use_tool_chat_engine("Hi", model=ScriptedModel(["Hello."])) == "Hello."
    journal = recording.journal()
    trees = check_one_tree_per_turn(journal, 3)
    tool_nodes = [n for n in trees[0].walk() if n.entry.type == "ToolCallStartedEvent"]
    (result,) = tool_nodes[0].children
    assert result.entry.get("is_error") and "no weather for Perth" in result.entry.get("result")
    assert len({t.entry.trace_id for t in trees}) == 3


async def test_each_engine_opens_its_run_once_with_what_rebuilds_it(
    recording: Recording,
) -> None:
    engine = ToolChatEngine(
        "s3", model=weather_then_answer(), tools=[get_weather], system_prompt="Be brief."
    )
    await engine.execute("Weather in Perth?")
    single = SinglePassEngine(model=ScriptedModel(["Hi."]), session_id="s4")
    await single.execute("Hello")
    runs = [e for e in recording.journal().entries if e.type == "RunStartedEvent"]
    assert [r.get("session_id") for r in runs] == ["s3", "s4"]
    tool_run = runs[0]
    assert tool_run.get("engine").endswith(":ToolChatEngine")
    assert tool_run.get("settings")["system_prompt"] == "Be brief."
    assert tool_run.get("models") == ["scripted"]
    (schema,) = tool_run.get("tools")
    assert schema["name"] == "get_weather" and "city" in schema["parameters"]["properties"]
    assert tool_run.parent_id is None  # a run header is a root of its own


async def test_requests_are_whole_in_the_log_without_copying_the_conversation(
    recording: Recording,
) -> None:
    seen: list[list[dict[str, object]]] = []

    def reply(messages: list[dict[str, object]], info: CallInfo) -> str:
        seen.append([dict(m) for m in messages])
        return f"answer {info.index}"

    engine = ToolChatEngine("s5", model=FunctionModel(reply), tools=[get_weather])
    for n in range(4):
        await engine.execute(f"question {n}")
    journal = recording.journal()
    calls = journal.calls()
    assert [c.get("call_seq") for c in calls] == sorted(c.get("call_seq") for c in calls)
    assert len(calls) == 4
    for call, sent in zip(calls, seen, strict=True):
        assert journal.request_messages(call) == json.loads(json.dumps(sent))
        assert journal.request_tools(call)[0]["function"]["name"] == "get_weather"
    later = calls[-1]
    assert later.get("prefix_call_id") == calls[-2].get("call_id")
    assert len(later.get("messages")) == 2  # the last answer and the new question
    assert later.get("tool_schemas") is None  # unchanged: the prefix call's


async def test_log_size_grows_linearly_with_the_conversation(recording: Recording) -> None:
    engine = ToolChatEngine("s6", model=FunctionModel(lambda m, i: "x" * 2_000))
    await engine.execute("y" * 20_000)
    sizes = []
    for turn in range(40):
        await engine.execute(f"turn {turn}: " + "z" * 2_000)
        if turn in (19, 39):
            sizes.append(sum(f.stat().st_size for f in recording.files()))
    first, second = sizes
    # 20 more turns add about what the first 20 added; a log copying the
    # history into every call would grow three times as much.
    assert second - first < 1.5 * (first - 20_000)


async def test_request_hashes_are_taken_before_secrets_are_masked(
    recording: Recording,
) -> None:
    secret = "sk-proj-" + "A1b2C3d4" * 6
    sent: list[LLMRequest] = []

    def reply(messages: list[dict[str, object]], info: CallInfo) -> str:
        sent.append(info.request)
        return "ok"

    model = FunctionModel(reply)
    await ToolChatEngine("s7", model=model).execute(f"my key is {secret}")
    text = "".join(f.read_text() for f in recording.files())
    assert secret not in text
    (call,) = recording.journal().calls()
    assert call.get("request_hash") == request_hash(model.model_string, sent[0])
    assert secret not in json.dumps(call.get("messages"))


async def test_two_processes_logs_merge_into_one_tree_by_trace(
    recording: Recording, tmp_path: Path
) -> None:
    engine = ToolChatEngine("s8", model=weather_then_answer(), tools=[get_weather])
    await engine.execute("Weather in Perth?")
    (path,) = recording.files()
    lines = path.read_text().splitlines()
    whole = [types_under(t) for t in turns(Journal.read([path]))]
    halves = [tmp_path / "a.jsonl", tmp_path / "b.jsonl"]
    halves[0].write_text("\n".join(lines[::2]) + "\n")
    halves[1].write_text("\n".join(lines[1::2]) + "\n")
    assert [types_under(t) for t in turns(Journal.read(halves))] == whole


def test_unreadable_lines_are_reported_and_the_rest_is_read(tmp_path: Path) -> None:
    path = tmp_path / "20261201T000000Z-abc.jsonl"
    good = {"event_type": "X", "event_id": "1", "timestamp": "2026-12-01T00:00:00"}
    path.write_text(json.dumps(good) + "\n{not json\n[1, 2]\n\n")
    journal = Journal.read([path, tmp_path / "missing.jsonl"])
    assert [e.id for e in journal.entries] == ["1"]
    assert (
        journal.problems[0]
        == f"{path}:2: not JSON (Expecting property name enclosed in double quotes)"
    )
    assert journal.problems[1] == f"{path}:3: not an event (a JSON list)"
    assert "missing.jsonl: cannot be read" in journal.problems[2]


async def test_runs_are_listed_newest_first_with_turns_tokens_and_cost(
    recording: Recording,
) -> None:
    priced = LLMResponse(
        content="Hi.", usage=Usage(prompt_tokens=7, completion_tokens=3), cost_usd=0.25
    )
    engine = ToolChatEngine("s9", model=ScriptedModel([priced, priced]))
    await engine.execute("one")
    await engine.execute("two")
    recording.files()
    (run,) = find_runs(recording.log_dir)
    assert run.run.endswith(recording.handler.run_id)
    assert (run.engine, run.models, run.turns) == ("ToolChatEngine", ["scripted"], 2)
    assert run.tokens == 20 and run.cost_usd == pytest.approx(0.5)


def test_a_log_reader_parses_only_what_was_added(tmp_path: Path) -> None:
    from llmgine.observability.journal import LogReader

    log = tmp_path / "run.jsonl"
    first = {"event_type": "A", "event_id": "1"}
    second = {"event_type": "B", "event_id": "2"}
    log.write_text(json.dumps(first) + "\n" + json.dumps(second)[:10])  # the second half-written
    reader = LogReader()
    journal = reader.read([log])
    assert [entry.id for entry in journal.entries] == ["1"] and journal.problems == []
    with log.open("a") as file:
        file.write(json.dumps(second)[10:] + "\nnot json\n")
    journal = reader.read([log])
    assert [(entry.id, entry.line) for entry in journal.entries] == [("1", 1), ("2", 2)]
    assert journal.problems == [f"{log}:3: not JSON (Expecting value)"]
    log.write_text(json.dumps(second) + "\n")  # replaced by a shorter file
    assert [entry.id for entry in reader.read([log]).entries] == ["2"]
    log.write_text(json.dumps(first))  # no newline at the end: read when nothing more comes
    assert [entry.id for entry in LogReader().read([log], final=True).entries] == ["1"]
