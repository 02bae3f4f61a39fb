"""Memory: turns embedded, the relevant ones recalled under a budget, the recall event."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from llmgine.bus.bus import MessageBus
from llmgine.context import ConversationStore, SQLiteContextManager
from llmgine.engines import ToolChatEngine
from llmgine.errors import ProviderConnectionError
from llmgine.memory import Memory, MemoryContextManager, MemoryRecallEvent, turns_of
from llmgine.models import Embedder
from llmgine.models.response import LLMResponse
from llmgine.testing import FunctionModel, HashEmbedder
from llmgine.tools import ToolCall, tool

FACTS = [
    ("My cat is called Miso and she likes tuna.", "Miso sounds lovely."),
    ("I am planning a trip to Kyoto in April.", "April is cherry blossom season in Kyoto."),
    ("My favourite programming language is Rust.", "Rust is a fine choice."),
    ("The wifi password at the office is taped under the router.", "Good to know."),
]


def remember(store: ConversationStore, facts: Sequence[tuple[str, str]]) -> str:
    """A stored conversation of question/answer turns; its id."""
    context = SQLiteContextManager(store=store)
    for question, answer in facts:
        context.store_string(question)
        context.store_string(answer, "assistant")
    return context.conversation_id


@pytest.fixture
def store(tmp_path: Path) -> ConversationStore:
    return ConversationStore(tmp_path / "c.db")


async def test_turns_are_indexed_once_and_recalled_by_relevance(store: ConversationStore) -> None:
    conversation = remember(store, FACTS)
    memory = Memory(store, HashEmbedder(), top_k=2, min_score=0.1)
    assert len(memory.pending(conversation)) == 4
    assert await memory.index(conversation) == 4
    assert await memory.index(conversation) == 0  # already embedded
    found = await memory.recall("What is my cat called?")
    assert [turn.text.splitlines()[0] for turn in found.turns] == [f"User: {FACTS[0][0]}"]
    assert found.turns[0].conversation_id == conversation
    assert found.candidates == 4 and found.error is None
    kyoto = await memory.recall("Which month is my Kyoto trip?")
    assert "Kyoto in April" in kyoto.turns[0].text
    assert "Miso" in memory.block(found) and "recalled from memory" in memory.block(found)


async def test_the_budget_the_threshold_the_scope_and_exclusions(store: ConversationStore) -> None:
    first = remember(store, FACTS)
    second = remember(store, [("Miso my cat hates the vet.", "Poor Miso.")])
    memory = Memory(store, HashEmbedder(), top_k=3, min_score=0.1)
    await memory.index_all()
    both = await memory.recall("Tell me about Miso my cat")
    assert {t.conversation_id for t in both.turns} == {first, second}
    assert both.tokens <= memory.token_budget

    tight = Memory(store, HashEmbedder(), top_k=3, token_budget=20, min_score=0.1)
    few = await tight.recall("Tell me about Miso my cat")
    assert few.tokens <= 20 and few.skipped >= 1

    strict = Memory(store, HashEmbedder(), min_score=0.99)
    assert (await strict.recall("Tell me about Miso my cat")).turns == []

    own = Memory(store, HashEmbedder(), scope="conversation", min_score=0.1)
    mine = await own.recall("Tell me about Miso my cat", conversation_id=second)
    assert {t.conversation_id for t in mine.turns} == {second}

    ids = [entry.id for entry in store.messages(second)]
    visible = await memory.recall("Tell me about Miso my cat", exclude_message_ids=ids)
    assert {t.conversation_id for t in visible.turns} == {first}


def test_a_turn_is_a_question_and_its_final_answer(store: ConversationStore) -> None:
    context = SQLiteContextManager(store=store)
    context.store_string("weather in Oslo?")
    context.store_string("unanswered", "user")
    context.store_string("weather in Rome?")
    context._add(  # noqa: SLF001 - a tool-calling answer, as the engine stores it
        {"role": "assistant", "content": None, "tool_calls": [{"id": "c1", "function": {}}]}
    )
    context.store_tool_call_result("c1", "get_weather", "Rome: 20 C")
    context.store_string("It is 20 C in Rome.", "assistant")
    context.store_string("and tomorrow?")  # not answered yet
    (turn,) = turns_of(store.messages(context.conversation_id))
    assert turn.text == "User: weather in Rome?\nAssistant: It is 20 C in Rome."


@tool
def get_weather(city: str) -> str:
    """Weather for a city.

    Args:
        city: The city.
    """
    return f"{city}: 17 C"


async def test_an_engine_with_memory_recalls_into_the_system_prompt_and_says_what(
    bus: MessageBus, store: ConversationStore
) -> None:
    memory = Memory(store, HashEmbedder(), min_score=0.1)
    seen: list[list[dict[str, Any]]] = []

    def reply(messages: list[dict[str, Any]], info: Any) -> Any:
        seen.append(messages)
        if messages[-1]["role"] == "user" and "weather" in str(messages[-1]["content"]):
            return ToolCall("c1", "get_weather", '{"city": "Kyoto"}')
        return "Noted." if len(seen) == 1 else "Your cat is Miso."

    old = ToolChatEngine(model=FunctionModel(reply), memory=memory)
    await old.answer("My cat is called Miso and she likes tuna.")
    events: list[MemoryRecallEvent] = []
    bus.register_event_handler(MemoryRecallEvent, events.append)
    engine = ToolChatEngine(model=FunctionModel(reply), memory=memory, tools=[get_weather])
    assert isinstance(engine.context, MemoryContextManager)
    seen.clear()
    assert await engine.answer("What is my cat called? And the weather in Kyoto?") == (
        "Your cat is Miso."
    )
    assert len(seen) == 2  # a tool call, then the answer: one recall for the turn
    for messages in seen:
        assert messages[0]["role"] == "system"
        assert "User: My cat is called Miso and she likes tuna." in messages[0]["content"]
    (event,) = events
    assert event.conversation_id == engine.conversation_id != old.conversation_id
    assert event.query.startswith("What is my cat called?")
    assert event.embedder == "hash:256" and event.backend in ("numpy", "python", "sqlite-vec")
    assert event.recalled[0]["conversation_id"] == old.conversation_id
    assert event.recalled[0]["text"].startswith("User: My cat is called Miso")
    assert event.tokens == event.recalled[0]["tokens"] and event.error is None
    assert event.token_budget == 600 and event.candidates == 1
    # The finished turn was embedded too: the next engine can recall it.
    assert memory.pending(engine.conversation_id or "") == []


class Unreachable(Embedder):
    name = "unreachable"  # type: ignore[assignment]

    async def embed(self, texts: Sequence[str]) -> list[list[float]]:
        raise ProviderConnectionError("could not reach it", provider="x", model="y")


async def test_a_failed_recall_leaves_the_turn_without_memory(
    bus: MessageBus, store: ConversationStore
) -> None:
    events: list[MemoryRecallEvent] = []
    bus.register_event_handler(MemoryRecallEvent, events.append)
    engine = ToolChatEngine(
        model=FunctionModel(lambda messages, info: "fine"), memory=Memory(store, Unreachable())
    )
    assert await engine.answer("hello") == "fine"
    (event,) = events
    assert event.recalled == [] and "could not reach it" in (event.error or "")
    # The turn is stored; it is embedded once the embedder answers again.
    assert [m.message["content"] for m in store.messages(engine.conversation_id or "")] == [
        "hello",
        "fine",
    ]


class Sink:
    """An event sink that says whether anyone listens, and keeps what it is sent."""

    def __init__(self, listening: bool) -> None:
        self.listening = listening
        self.asked: list[type] = []
        self.events: list[object] = []

    def has_handlers(self, event_type: type, session_id: str = "ROOT") -> bool:
        self.asked.append(event_type)
        return self.listening

    async def publish(self, event: object, await_processing: bool = True) -> None:
        self.events.append(event)


@pytest.mark.parametrize("listening", [True, False])
async def test_the_event_goes_through_the_injected_sink_only_when_someone_listens(
    store: ConversationStore, listening: bool
) -> None:
    sink = Sink(listening)
    context = MemoryContextManager(memory=Memory(store, "hash"), events=sink, session_id="s")
    context.store_string("hello")
    await context.retrieve()
    await context.retrieve()  # the same question: no second recall
    assert sink.asked == [MemoryRecallEvent]
    assert len(sink.events) == (1 if listening else 0)


async def test_a_rolled_back_turn_leaves_no_memory(store: ConversationStore) -> None:
    memory = Memory(store, HashEmbedder())
    context = MemoryContextManager(memory=memory)
    mark = context.checkpoint()
    context.store_string("question")
    await context.store_assistant_message(LLMResponse(content="answer"))
    assert store.connection.execute("SELECT count(*) FROM memories").fetchone()[0] == 1
    context.rollback(mark)
    assert store.connection.execute("SELECT count(*) FROM memories").fetchone()[0] == 0
