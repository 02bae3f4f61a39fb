"""The consortium engine: concurrency, failures, budget, cancellation, recursion, history."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from consortium_helpers import Judge, failing, member, priced, verdict

from llmgine.bus.bus import MessageBus
from llmgine.engines import (
    ConsortiumEngine,
    ConsortiumEngineCommand,
    ConsortiumEngineStatusEvent,
    use_consortium_engine,
)
from llmgine.engines.consortium import ConsortiumMemberEvent
from llmgine.engines.consortium.run import ConsortiumOutcome, ConsortiumRun
from llmgine.engines.consortium.strategies.arbiter import ArbiterStrategy
from llmgine.engines.consortium.strategies.base import Strategy
from llmgine.errors import ConfigurationError, EngineError
from llmgine.models.interface import Model
from llmgine.models.request import LLMRequest
from llmgine.models.response import LLMResponse
from llmgine.testing import FunctionModel, ScriptedModel


async def test_five_members_of_200_ms_answer_together(bus: MessageBus) -> None:
    members = [member(f"answer {n}", f"m{n}", latency=0.2) for n in range(5)]
    engine = ConsortiumEngine(members, Judge(verdict()))
    started = time.monotonic()
    result = await engine.execute("q")
    elapsed = time.monotonic() - started
    assert result.success and len(result.metadata["members"]) == 5
    assert elapsed < 0.8, f"five 200 ms members took {elapsed:.2f} s"


async def test_the_concurrency_cap_is_kept(bus: MessageBus) -> None:
    running, peak = 0, 0

    async def answer(messages: list[dict[str, Any]], info: Any) -> str:
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        await asyncio.sleep(0.02)
        running -= 1
        return "ok"

    members = [FunctionModel(answer, name=f"m{n}") for n in range(5)]
    result = await ConsortiumEngine(members, Judge(verdict()), max_concurrency=2).execute("q")
    assert result.success and peak == 2


async def test_a_slow_member_times_out_and_is_noted(bus: MessageBus) -> None:
    engine = ConsortiumEngine(
        [member("fast"), member("slow", "sloth", latency=5)],
        Judge(verdict("S")),
        member_timeout=0.2,
        member_retries=0,
    )
    result = await engine.execute("q")
    assert result.success and result.result == "S"
    (slow,) = [m for m in result.metadata["members"] if m["model"] == "function:sloth"]
    assert not slow["ok"] and "no answer within 0.2 s" in slow["error"]


async def test_member_events_report_each_member(bus: MessageBus) -> None:
    events: list[ConsortiumMemberEvent] = []
    statuses: list[str] = []
    bus.register_event_handler(ConsortiumMemberEvent, events.append, "s1")
    bus.register_event_handler(
        ConsortiumEngineStatusEvent, lambda e: statuses.append(e.status), "s1"
    )
    engine = ConsortiumEngine(
        [member("hello", "a"), failing("b")], Judge(verdict()), session_id="s1", member_retries=0
    )
    engine.register()
    result = await bus.execute(ConsortiumEngineCommand("q", session_id="s1"))
    assert result.success
    by_state = sorted((e.label, e.state) for e in events)
    assert by_state == [
        ("Member A", "answered"),
        ("Member A", "started"),
        ("Member B", "failed"),
        ("Member B", "started"),
    ]
    answered = next(e for e in events if e.state == "answered")
    assert answered.content == "hello" and answered.model == "function:a"
    assert answered.usage["total_tokens"] > 0
    assert statuses[-1] == "finished"


async def test_all_members_failing_is_one_readable_error(bus: MessageBus) -> None:
    statuses: list[str] = []
    bus.register_event_handler(ConsortiumEngineStatusEvent, lambda e: statuses.append(e.status))
    judge = Judge(verdict())
    engine = ConsortiumEngine([failing("x"), failing("y")], judge, member_retries=1)
    result = await engine.execute("q")
    assert not result.success and result.result is None
    assert result.error.startswith("no member answered: Member A (function:x): RuntimeError")
    assert "Member B (function:y)" in result.error and "\n" not in result.error
    assert judge.calls == 0 and statuses[-1] == "finished"
    assert engine.history == []
    with pytest.raises(EngineError, match="no member answered"):
        await use_consortium_engine("q", [failing()], member_retries=0)


async def test_usage_and_cost_are_summed_over_every_call(bus: MessageBus) -> None:
    members = [ScriptedModel([priced("a", 10, 0.001)]), ScriptedModel([priced("b", 20, 0.002)])]
    judge = Judge(verdict())
    engine = ConsortiumEngine(members, judge, structured=False)
    judge.replies = ["<synthesis>S</synthesis><confidence>0.9</confidence>"]
    result = await engine.execute("q")
    meta = result.metadata
    arbiter_tokens = meta["usage"]["total_tokens"] - 30
    assert arbiter_tokens > 0  # the arbiter's call (estimated by the offline model)
    assert meta["cost_usd"] == pytest.approx(0.003)
    assert meta["session_usage"] == meta["usage"]


async def test_budget_stop_returns_the_best_answer_so_far(bus: MessageBus) -> None:
    members = [ScriptedModel([priced("brief", 10)]), ScriptedModel([priced("much longer", 10)])]
    judge = Judge(verdict())
    engine = ConsortiumEngine(members, judge, budget_tokens=15)
    result = await engine.execute("q")
    assert result.success and result.result == "much longer"
    assert result.metadata["stop_reason"] == "budget: 20 of 15 tokens used"
    assert result.metadata["fallback_reason"].startswith("budget: 20 of 15 tokens used; used")
    assert judge.calls == 0


async def test_budget_stop_after_a_round_keeps_its_synthesis(bus: MessageBus) -> None:
    members = [ScriptedModel([priced("a", 10)] * 3), ScriptedModel([priced("b", 10)] * 3)]
    judge = Judge(
        LLMResponse(
            content="<synthesis>S1</synthesis><confidence>0.2</confidence>",
            usage=priced("x", 10).usage,
            cost_usd=0.5,
        )
    )
    engine = ConsortiumEngine(members, judge, structured=False, budget_usd=0.4)
    result = await engine.execute("q")
    assert result.result == "S1" and result.metadata["iterations"] == 1
    assert result.metadata["stop_reason"].startswith("budget: $0.5")
    assert judge.calls == 1


async def test_no_budget_at_all_fails_readably(bus: MessageBus) -> None:
    result = await ConsortiumEngine([member("a")], Judge(verdict()), budget_tokens=0).execute("q")
    assert not result.success
    assert result.error == "no member answered (budget: 0 of 0 tokens used)"


async def test_cancelling_the_turn_cancels_every_member_call(bus: MessageBus) -> None:
    started: set[str] = set()
    cancelled: set[str] = set()
    everyone_started = asyncio.Event()

    def slow(name: str) -> FunctionModel:
        async def answer(messages: list[dict[str, Any]], info: Any) -> str:
            started.add(name)
            if len(started) == 3:
                everyone_started.set()
            try:
                await asyncio.sleep(60)
            except asyncio.CancelledError:
                cancelled.add(name)
                raise
            return "too late"

        return FunctionModel(answer, name=name)

    judge = Judge(verdict())
    engine = ConsortiumEngine([slow("a"), slow("b"), slow("c")], judge)
    before = asyncio.all_tasks()
    turn = asyncio.create_task(engine.execute("q"))
    await asyncio.wait_for(everyone_started.wait(), 30)
    turn.cancel()
    with pytest.raises(asyncio.CancelledError):
        await turn
    assert cancelled == started == {"a", "b", "c"}
    assert {task for task in asyncio.all_tasks() if not task.done()} <= before
    assert judge.calls == 0 and engine.history == []


class EngineModel(Model):
    """A model that answers by asking a consortium engine (an adapter)."""

    provider = "engine"

    def __init__(self, engine: ConsortiumEngine) -> None:
        super().__init__()
        self.name = "wrapper"
        self.engine = engine

    async def request(self, request: LLMRequest) -> LLMResponse:
        result = await self.engine.execute(str(request.messages[-1]["content"]))
        return LLMResponse(content=result.result or result.error)


async def test_a_consortium_cannot_contain_itself(bus: MessageBus) -> None:
    engine = ConsortiumEngine([member("a")], Judge(verdict()))
    with pytest.raises(ConfigurationError, match="cannot contain itself"):
        engine.set_members([member("a"), EngineModel(engine)])
    with pytest.raises(ConfigurationError, match="arbiter"):
        engine.set_arbiter(EngineModel(engine))
    assert len(engine.members) == 1 and engine.arbiter.name == "judge"  # unchanged
    # another consortium that contains this one, as a member
    outer = ConsortiumEngine([member("b"), EngineModel(engine)], Judge(verdict()))
    with pytest.raises(ConfigurationError, match="cannot contain itself"):
        engine.set_members([EngineModel(outer)])
    # changed behind its back: the turn fails with the same clear error
    engine.members[0].model = EngineModel(engine)
    result = await engine.execute("q")
    assert not result.success and "cannot contain itself" in result.error


async def test_nested_calls_of_the_same_engine_are_refused(bus: MessageBus) -> None:
    inner_results: list[Any] = []
    engine: ConsortiumEngine

    async def recursive(messages: list[dict[str, Any]], info: Any) -> str:
        result = await engine.execute("again")  # hidden in a closure: not seen statically
        inner_results.append(result)
        return "done"

    engine = ConsortiumEngine(
        [member("plain"), FunctionModel(recursive, name="sneaky")], Judge(verdict("S"))
    )
    statuses: list[str] = []
    bus.register_event_handler(ConsortiumEngineStatusEvent, lambda e: statuses.append(e.status))
    result = await engine.execute("q")
    assert result.success and result.result == "S"
    assert statuses.count("finished") == 1  # the refused inner call did not end the turn
    assert result.metadata["usage"] == result.metadata["session_usage"]  # nor reset its usage
    (inner,) = inner_results
    assert not inner.success and "cannot contain itself" in inner.error
    # a different consortium inside a member is fine
    other = ConsortiumEngine([member("x")], Judge(verdict("inner answer")))
    outer = ConsortiumEngine([EngineModel(other)], Judge(verdict("outer answer")))
    assert (await outer.execute("q")).result == "outer answer"


async def test_history_is_given_to_members_and_arbiter(bus: MessageBus) -> None:
    alpha = ScriptedModel(["first answer", "second answer"], name="alpha")
    judge = Judge(verdict("synth 1"), verdict("synth 2"))
    engine = ConsortiumEngine([alpha], judge)
    await engine.execute("first question")
    result = await engine.execute("second question")
    assert result.result == "synth 2"
    assert alpha.requests[1].messages == [
        {"role": "user", "content": "first question"},
        {"role": "assistant", "content": "synth 1"},
        {"role": "user", "content": "second question"},
    ]
    assert "first question" in judge.prompts[1] and "synth 1" in judge.prompts[1]
    engine.clear_context()
    assert engine.history == []


async def test_default_arbiter_and_member_counts(bus: MessageBus) -> None:
    engine = ConsortiumEngine(["test:3"])
    assert [m.label for m in engine.members] == ["Member A", "Member B", "Member C"]
    assert engine.arbiter is engine.members[0].model
    result = await engine.execute("q")
    assert result.success and len(result.metadata["members"]) >= 3


def test_strategies_by_name_class_or_instance() -> None:
    with pytest.raises(ConfigurationError, match="unknown consortium strategy 'nope'"):
        ConsortiumEngine([member("a")], strategy="nope")
    with pytest.raises(ConfigurationError, match="bad options for the 'arbiter' strategy"):
        ConsortiumEngine([member("a")], colour="blue")
    with pytest.raises(ConfigurationError, match="min_iterations"):
        ConsortiumEngine([member("a")], min_iterations=0)
    with pytest.raises(ConfigurationError, match="strategy instance"):
        ConsortiumEngine([member("a")], strategy=ArbiterStrategy(), max_iterations=2)
    engine = ConsortiumEngine([member("a")], strategy=ArbiterStrategy(max_iterations=5))
    assert engine.strategy.max_iterations == 5  # type: ignore[attr-defined]


class Broken(Strategy):
    name = "broken"

    async def run(self, run: ConsortiumRun, prompt: str) -> ConsortiumOutcome:
        await run.ask_members([{"role": "user", "content": prompt}], stage="answer")
        raise KeyError("bug")


async def test_a_failing_strategy_still_gives_the_best_answer(bus: MessageBus) -> None:
    engine = ConsortiumEngine([member("a"), member("bb")], strategy=Broken())
    result = await engine.execute("q")
    assert result.success and result.result == "bb"
    assert result.metadata["fallback_reason"].startswith("the broken strategy failed (KeyError")
    assert result.metadata["stop_reason"] == "strategy failed"


async def test_use_consortium_engine_returns_the_text(bus: MessageBus) -> None:
    text = await use_consortium_engine(
        "q", [member("a"), member("b")], arbiter=Judge(verdict("together")), max_iterations=1
    )
    assert text == "together"
