"""replay_log: a recorded run executed again offline, its events compared with the log's."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from llmgine.engines import ConsortiumEngine, SinglePassEngine, ToolChatEngine
from llmgine.engines.replay import replay_log
from llmgine.errors import ConfigurationError
from llmgine.models.response import LLMResponse, Usage
from llmgine.testing import FakeMessageBus, FunctionModel, ScriptedModel
from llmgine.tools import ToolCall, tool
from log_recording import Recording

CALLS = 0


@tool
def get_weather(city: str) -> str:
    """Weather for a city.

    Args:
        city: The city.
    """
    global CALLS
    CALLS += 1
    return f"{city}: 17 C"


@tool(name="get_weather")
def colder_weather(city: str) -> str:
    """Weather for a city.

    Args:
        city: The city.
    """
    return f"{city}: 3 C"


def tool_chat() -> ToolChatEngine:
    model = ScriptedModel(
        [
            ToolCall("c1", "get_weather", '{"city": "Perth"}'),
            LLMResponse(content="It is 17 C.", usage=Usage(10, 4), cost_usd=0.001),
            "Goodbye.",
        ]
    )
    return ToolChatEngine("chat", model=model, tools=[get_weather], system_prompt="Be brief.")


async def record_tool_chat(recording: Recording) -> list[Path]:
    engine = tool_chat()
    assert (await engine.execute("Weather in Perth?")).result == "It is 17 C."
    assert (await engine.execute("Thanks")).result == "Goodbye."
    return recording.files()


async def test_a_recorded_run_replays_the_same_without_running_its_tools(
    recording: Recording,
) -> None:
    files = await record_tool_chat(recording)
    before = CALLS
    outcome = await replay_log(files)
    assert outcome.matched, "\n".join(outcome.diff)
    assert (outcome.commands, outcome.errors, outcome.unplayed) == (2, [], [])
    assert CALLS == before  # tool results came from the log


async def test_live_tools_that_answer_otherwise_make_it_diverge(recording: Recording) -> None:
    files = await record_tool_chat(recording)
    outcome = await replay_log(files, live_tools=[colder_weather])
    assert not outcome.matched
    removed = [line for line in outcome.diff if line.startswith("-") and "17 C" in line]
    added = [line for line in outcome.diff if line.startswith("+") and "3 C" in line]
    assert removed and added
    # The model was asked something it never was: the tool result differs.
    assert any("no recorded answer" in error for error in outcome.errors)


async def test_live_tools_that_answer_the_same_match(recording: Recording) -> None:
    files = await record_tool_chat(recording)
    before = CALLS
    outcome = await replay_log(files, live_tools=[get_weather])
    assert outcome.matched, "\n".join(outcome.diff)
    assert CALLS == before + 1


async def test_a_removed_model_answer_is_a_divergence(recording: Recording) -> None:
    (path,) = await record_tool_chat(recording)
    lines = path.read_text().splitlines()
    answer = next(
        n
        for n, line in enumerate(lines)
        if json.loads(line)["event_type"] == "LLMResponseEvent"
        and json.loads(line)["content"] == "It is 17 C."
    )
    path.write_text("\n".join(lines[:answer] + lines[answer + 1 :]) + "\n")
    outcome = await replay_log([path])
    assert not outcome.matched
    assert any("no answer to it" in error for error in outcome.errors)


async def test_several_engines_and_a_seeded_consortium_replay(recording: Recording) -> None:
    single = SinglePassEngine(
        model=FunctionModel(lambda m, i: "one pass", name="pass"), session_id="single"
    )
    await single.execute("Hello")
    members = [FunctionModel(lambda m, i, n=n: f"answer {n}", name=f"m{n}") for n in range(3)]
    arbiter = FunctionModel(lambda m, i: "the best of them", name="arbiter")
    consortium = ConsortiumEngine(members, arbiter, strategy="moa", session_id="moa", layers=2)
    first = await consortium.execute("Which?")
    assert first.success, first.error
    outcome = await replay_log(recording.files())
    assert outcome.matched, "\n".join(outcome.diff)
    assert outcome.commands == 2 and outcome.unplayed == []


async def test_logs_that_cannot_be_replayed_say_why(recording: Recording, tmp_path: Path) -> None:
    files = await record_tool_chat(recording)
    text = files[0].read_text()
    no_run = tmp_path / "no-run.jsonl"
    no_run.write_text(
        "\n".join(line for line in text.splitlines() if "RunStartedEvent" not in line) + "\n"
    )
    with pytest.raises(ConfigurationError, match="no RunStartedEvent"):
        await replay_log([no_run])
    unknown = tmp_path / "unknown.jsonl"
    unknown.write_text(text.replace("tool_chat_engine:ToolChatEngine", "elsewhere:MyEngine"))
    with pytest.raises(ConfigurationError, match="elsewhere:MyEngine is not defined"):
        await replay_log([unknown])
    corrupt = tmp_path / "corrupt.jsonl"
    corrupt.write_text(text + "{cut mid-line\n")
    with pytest.raises(ConfigurationError, match="unreadable lines"):
        await replay_log([corrupt])


async def test_a_continued_stored_conversation_replays_from_where_it_started(
    recording: Recording, tmp_path: Path
) -> None:
    db = tmp_path / "conversations.db"
    first = ToolChatEngine(  # not on the logged bus: the log holds the continued run only
        "before",
        model=FunctionModel(lambda m, i: f"{len(m)} messages seen"),
        db=db,
        bus=FakeMessageBus(),
    )
    await first.execute("Remember: the password is swordfish")
    stored = first.conversation_id
    later = ToolChatEngine(
        "after",
        model=FunctionModel(lambda m, i: f"{len(m)} messages seen"),
        db=db,
        conversation_id=stored,
    )
    assert (await later.execute("What was it?")).result == "4 messages seen"
    before = db.stat().st_mtime_ns
    outcome = await replay_log(recording.files())
    assert outcome.matched, "\n".join(outcome.diff)
    assert db.stat().st_mtime_ns == before  # a replay never writes to the store


async def test_a_run_with_memory_replays_what_it_recalled(
    recording: Recording, tmp_path: Path
) -> None:
    from llmgine.context import ConversationStore
    from llmgine.memory import Memory
    from llmgine.testing import HashEmbedder

    store = ConversationStore(tmp_path / "conversations.db")
    memory = Memory(store, HashEmbedder(), top_k=2, min_score=0.1)
    earlier = ToolChatEngine(  # not on the logged bus: only the later run is in the log
        "before", model=FunctionModel(lambda m, i: "Noted."), memory=memory, bus=FakeMessageBus()
    )
    await earlier.execute("My cat is called Tom.")

    def answer(messages: list[dict[str, object]], info: object) -> str:
        return "Tom, you said." if "Tom" in json.dumps(messages) else "No idea."

    later = ToolChatEngine("after", model=FunctionModel(answer), memory=memory)
    assert (await later.execute("What is my cat called?")).result == "Tom, you said."
    (recall,) = [e for e in recording.journal().entries if e.type == "MemoryRecallEvent"]
    assert recall.get("recalled") and "Tom" in recall.get("recalled")[0]["text"]
    before = store.path.stat().st_mtime_ns
    outcome = await replay_log(recording.files())  # the store is not read: the log says
    assert outcome.matched, "\n".join(outcome.diff)
    assert outcome.errors == [] and outcome.commands == 1
    assert store.path.stat().st_mtime_ns == before
    store.close()
