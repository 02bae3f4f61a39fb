"""The mixture-of-agents strategy: layers, anonymity, the acting aggregator, fallbacks, cuts."""

from __future__ import annotations

from typing import Any

import pytest

from llmgine.bus.bus import MessageBus
from llmgine.engines.base import Engine
from llmgine.engines.consortium.events import (
    ConsortiumCombineEvent,
    ConsortiumIterationEvent,
    ConsortiumMemberEvent,
    MoaReferenceCacheHitEvent,
)
from llmgine.engines.consortium.members import parse_members
from llmgine.engines.consortium.run import Budget, ConsortiumRun
from llmgine.engines.consortium.strategies.moa import (
    MoaStrategy,
    advisory_view,
    truncate_middle,
)
from llmgine.engines.consortium.strategies.moa_cache import view_hash
from llmgine.engines.messages import EngineCommand
from llmgine.errors import EngineError, ProviderServerError
from llmgine.messages.commands import CommandResult
from llmgine.models.interface import Model
from llmgine.models.retry import RetryPolicy
from llmgine.testing import FunctionModel
from llmgine.tools import ToolCall, tool
from llmgine.tools.events import ToolExecuteResultEvent

LONG_RESULT = "HEAD-" + "x" * 9000 + "-TAIL"


class Host(Engine):
    """The smallest engine a run needs (ids, session, bus, usage)."""

    async def handle_command(self, command: EngineCommand) -> CommandResult:
        raise NotImplementedError


def make_run(
    members: list[Model],
    arbiter: Model | None = None,
    backup: Model | None = None,
    **options: Any,
) -> ConsortiumRun:
    return ConsortiumRun(
        Host(),
        parse_members(members),
        arbiter=arbiter,
        backup_arbiter=backup,
        member_retries=0,
        seed=3,
        **options,
    )


class Recorder(FunctionModel):
    """A model answering ``reply(n)`` on its n-th call (from 1), recording what it was asked."""

    def __init__(self, name: str, reply: Any = None, fail: bool = False) -> None:
        self.prompts: list[str] = []
        self.conversations: list[list[dict[str, Any]]] = []
        self.offered: list[list[str]] = []
        self.reply = reply or (lambda n: f"{name} says {n}")
        self.fail = fail
        super().__init__(self._answer, name=name)

    def _answer(self, messages: list[dict[str, Any]], info: Any) -> Any:
        self.prompts.append(str(messages[-1]["content"]))
        self.conversations.append(messages)
        self.offered.append(info.tool_names)
        if self.fail:
            raise RuntimeError(f"{self.name} is down")
        return self.reply(len(self.prompts))


# -- truncation and the advisory view ---------------------------------------------------


@pytest.mark.parametrize("limit", [60, 100, 999, 4000])
def test_truncate_middle_keeps_head_and_tail_within_the_limit(limit: int) -> None:
    text = "".join(chr(97 + n % 26) for n in range(10_000))
    cut = truncate_middle(text, limit)
    assert len(cut) == limit
    head, marker, tail = cut.partition("\n[... ")
    omitted = int(tail.split(" characters omitted", 1)[0])
    tail = tail.split("...]\n", 1)[1]
    assert text.startswith(head) and text.endswith(tail) and head and tail
    assert len(head) + omitted + len(tail) == len(text)


def test_truncate_middle_leaves_short_texts_and_handles_tiny_limits() -> None:
    assert truncate_middle("short", 5) == "short"
    assert truncate_middle("", 1) == ""
    assert truncate_middle("a long text here", 4) == "a lo"  # no room for a marker
    with pytest.raises(ValueError, match="at least 1"):
        truncate_middle("text", 0)


def test_advisory_view_flattens_tool_calls_and_cuts_results() -> None:
    messages = [
        {"role": "system", "content": "secret system prompt"},
        {"role": "user", "content": "find it"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {"id": "c1", "type": "function", "function": {"name": "grep", "arguments": "{}"}}
            ],
        },
        {"role": "tool", "tool_call_id": "c1", "name": "grep", "content": LONG_RESULT},
    ]
    view = advisory_view(messages, 200)
    assert [m["role"] for m in view] == ["user", "assistant"]
    text = view[1]["content"]
    assert text.startswith("[called tool: grep({})]\n[tool result (grep): HEAD-")
    assert text.endswith("-TAIL]") and "characters omitted" in text
    assert len(text) < 300 and all("tool_calls" not in m for m in view)


# -- layers -------------------------------------------------------------------------------


async def test_later_layers_see_the_previous_answers_anonymously(bus: MessageBus) -> None:
    alpha, beta = Recorder("alpha-model"), Recorder("beta-model")
    aggregator = Recorder("judge-model", reply=lambda n: "the synthesis")
    run = make_run(
        [alpha, beta],
        aggregator,
        history=[
            {"role": "user", "content": "earlier question"},
            {"role": "assistant", "content": "earlier answer"},
        ],
    )
    layers: list[ConsortiumIterationEvent] = []
    combines: list[ConsortiumCombineEvent] = []
    bus.register_event_handler(ConsortiumIterationEvent, layers.append)
    bus.register_event_handler(ConsortiumCombineEvent, combines.append)

    outcome = await MoaStrategy(layers=3).run(run, "What is MoA?")

    assert outcome.answer == "the synthesis" and outcome.strategy == "moa"
    assert (outcome.iterations, outcome.stop_reason, outcome.fallback_reason) == (
        3,
        "aggregated",
        None,
    )
    assert alpha.prompts[0] == "What is MoA?" and len(alpha.prompts) == 3
    second = alpha.prompts[1]
    assert "alpha-model says 1" in second and "beta-model says 1" in second
    assert "says 2" not in second and '<reference name="Response 1">' in second
    third = beta.prompts[2]
    assert "alpha-model says 2" in third and "says 1" not in third
    (final,) = aggregator.prompts
    assert "alpha-model says 3" in final and "beta-model says 3" in final
    for prompt in [*alpha.prompts[1:], *beta.prompts[1:], final]:
        # answers name their model here, so strip them: no label or model name remains
        scrubbed = prompt.replace("alpha-model says", "").replace("beta-model says", "")
        assert "alpha" not in scrubbed and "beta" not in scrubbed and "Member" not in scrubbed
    assert [(e.strategy, e.iteration, e.details["answered"]) for e in layers] == [
        ("moa", 1, 2),
        ("moa", 2, 2),
        ("moa", 3, 2),
    ]
    assert [e.state for e in combines] == ["started", "finished"]
    assert combines[0].model == "function:judge-model"
    assert outcome.details["aggregator"] == "function:judge-model"
    assert len(outcome.answers) == 6


async def test_history_reaches_proposers_and_aggregator(bus: MessageBus) -> None:
    seen: list[list[dict[str, Any]]] = []

    def remember(messages: list[dict[str, Any]], info: Any) -> str:
        seen.append(messages)
        return "answer"

    history = [
        {"role": "user", "content": "earlier question"},
        {"role": "assistant", "content": "earlier answer"},
    ]
    run = make_run([FunctionModel(remember)], FunctionModel(remember), history=history)
    await MoaStrategy(layers=1).run(run, "now")
    proposer, aggregator = seen
    assert proposer[:2] == history and proposer[-1] == {"role": "user", "content": "now"}
    assert aggregator[1:3] == history and aggregator[0]["role"] == "system"


async def test_a_failed_proposer_is_a_note_and_the_layers_go_on(bus: MessageBus) -> None:
    alpha, broken = Recorder("alpha-model"), Recorder("broken-model", fail=True)
    aggregator = Recorder("judge", reply=lambda n: "combined")
    outcome = await MoaStrategy(layers=2).run(make_run([alpha, broken], aggregator), "q")
    assert outcome.answer == "combined"
    second = alpha.prompts[1]
    assert 'status="failed">[no answer: RuntimeError: [model] is down]' in second
    assert "broken" not in second
    assert [a.ok for a in outcome.answers] == [True, False, True, False]


async def test_no_proposer_answering_in_layer_one_is_an_error(bus: MessageBus) -> None:
    run = make_run([Recorder("a", fail=True), Recorder("b", fail=True)], Recorder("judge"))
    with pytest.raises(EngineError, match="no proposer answered in layer 1"):
        await MoaStrategy().run(run, "q")


async def test_a_layer_with_no_answers_keeps_the_previous_one(bus: MessageBus) -> None:
    flaky = Recorder("flaky", reply=lambda n: "first" if n == 1 else 1 / 0)
    aggregator = Recorder("judge", reply=lambda n: "combined")
    outcome = await MoaStrategy(layers=3).run(make_run([flaky], aggregator), "q")
    assert outcome.iterations == 2 and outcome.details["layer_used"] == 1
    assert "first" in aggregator.prompts[0]
    assert outcome.details["notes"] == ["no proposer answered in layer 2; used layer 1"]


# -- the aggregator -------------------------------------------------------------------------


@tool
def lookup(query: str) -> str:
    """Look something up.

    Args:
        query: What to look up.
    """
    return LONG_RESULT


async def test_the_aggregator_acts_with_tools_and_proposers_only_advise(bus: MessageBus) -> None:
    requests: list[list[dict[str, Any]]] = []

    def act(messages: list[dict[str, Any]], info: Any) -> Any:
        requests.append(messages)
        assert info.tool_names == ["lookup"]
        if not any(m["role"] == "tool" for m in messages):
            return ToolCall("c1", "lookup", '{"query": "moa"}')
        return "answer after the tool"

    alpha, beta = Recorder("alpha"), Recorder("beta")
    run = make_run([alpha, beta], FunctionModel(act, name="actor"))
    results: list[ToolExecuteResultEvent] = []
    stages: list[str] = []
    bus.register_event_handler(ToolExecuteResultEvent, results.append)
    bus.register_event_handler(
        ConsortiumMemberEvent, lambda e: stages.append(e.stage) if e.state == "answered" else None
    )

    strategy = MoaStrategy(layers=2, aggregator_tools=[lookup], max_context_chars=500)
    outcome = await strategy.run(run, "What does the lookup say?")

    assert outcome.answer == "answer after the tool"
    assert [r.result for r in results] == [LONG_RESULT]
    # proposers never got tools: two layers and one round of advice
    assert alpha.offered == beta.offered == [[], [], []]
    assert sorted(stages) == sorted(["layer 1"] * 2 + ["layer 2"] * 2 + ["advice 1"] * 2)
    advice = "\n".join(str(m["content"]) for m in alpha.conversations[2])
    roles = [m["role"] for m in alpha.conversations[2]]
    assert roles == ["system", "user", "assistant", "user"]
    assert alpha.conversations[2][1]["content"] == "What does the lookup say?"
    assert "[called tool: lookup(" in advice and "[tool result (lookup): HEAD-" in advice
    assert "-TAIL]" in advice and "characters omitted" in advice
    assert LONG_RESULT not in advice and len(advice) < 1500
    # the aggregator saw the whole result and, in its next call, the advice
    assert requests[1][-1]["content"] == LONG_RESULT
    prompt = next(m for m in reversed(requests[1]) if m["role"] == "user")["content"]
    assert "Advice of the assistants" in prompt and "alpha says 3" in prompt
    assert requests[0][0]["role"] == "system" and "call tools" in requests[0][0]["content"]
    assert outcome.details["tool_calls"] == 1 and outcome.details["advice_rounds"] == 1
    # the aggregator's calls are counted in the run
    members_tokens = sum(a.usage.total_tokens for a in run.answers)
    assert run.usage.total_tokens > members_tokens


async def test_no_advice_rounds_means_proposers_are_not_asked_again(bus: MessageBus) -> None:
    def act(messages: list[dict[str, Any]], info: Any) -> Any:
        if not any(m["role"] == "tool" for m in messages):
            return ToolCall("c1", "lookup", '{"query": "moa"}')
        return "done"

    alpha = Recorder("alpha")
    strategy = MoaStrategy(layers=1, aggregator_tools=[lookup], tool_advice_rounds=0)
    outcome = await strategy.run(make_run([alpha], FunctionModel(act)), "q")
    assert outcome.answer == "done" and len(alpha.prompts) == 1


async def test_aggregator_failure_uses_the_backup(bus: MessageBus) -> None:
    combines: list[ConsortiumCombineEvent] = []
    bus.register_event_handler(ConsortiumCombineEvent, combines.append)
    run = make_run(
        [Recorder("alpha")],
        Recorder("main", fail=True),
        Recorder("backup", reply=lambda n: "from the backup"),
    )
    outcome = await MoaStrategy(layers=1).run(run, "q")
    assert outcome.answer == "from the backup" and outcome.stop_reason == "aggregated"
    assert [e.state for e in combines] == ["started", "failed", "started", "finished"]
    assert "main is down" in (combines[1].reason or "")
    assert outcome.fallback_reason is not None
    assert outcome.fallback_reason.endswith("the backup aggregator answered")


async def test_all_aggregators_failing_falls_back_to_the_longest_answer(bus: MessageBus) -> None:
    short = Recorder("short", reply=lambda n: "short")
    long = Recorder("long", reply=lambda n: "a much longer answer")
    empty = Recorder("empty", reply=lambda n: "   ")
    run = make_run([short, long], Recorder("main", fail=True), empty)
    outcome = await MoaStrategy(layers=1).run(run, "q")
    assert outcome.answer == "a much longer answer"
    assert outcome.stop_reason == "aggregator failed"
    reason = outcome.fallback_reason or ""
    assert "main is down" in reason and "the answer was empty" in reason
    assert reason.endswith("used the longest answer (Member B)")


async def test_an_explicit_aggregator_replaces_the_arbiter(bus: MessageBus) -> None:
    arbiter = Recorder("arbiter")
    strategy = MoaStrategy(layers=1, aggregator=Recorder("chosen", reply=lambda n: "chosen"))
    outcome = await strategy.run(make_run([Recorder("alpha")], arbiter), "q")
    assert outcome.answer == "chosen" and arbiter.prompts == []


async def test_the_budget_stops_the_layers_with_the_best_answer_so_far(bus: MessageBus) -> None:
    aggregator = Recorder("judge")
    run = make_run(
        [Recorder("a", reply=lambda n: "one"), Recorder("b", reply=lambda n: "longer one")],
        aggregator,
        budget=Budget(max_tokens=1),
    )
    outcome = await MoaStrategy(layers=2).run(run, "q")
    assert outcome.answer == "longer one" and outcome.stop_reason.startswith("budget:")
    assert "the longest answer" in (outcome.fallback_reason or "")
    assert aggregator.prompts == []


def test_settings_are_checked() -> None:
    with pytest.raises(ValueError, match="layers"):
        MoaStrategy(layers=0)
    with pytest.raises(ValueError, match="max_context_chars"):
        MoaStrategy(max_context_chars=10)
    with pytest.raises(ValueError, match="tool_advice_rounds"):
        MoaStrategy(tool_advice_rounds=-1)


async def test_through_the_consortium_engine(bus: MessageBus) -> None:
    from llmgine.engines.consortium import ConsortiumEngine

    alpha, beta = Recorder("alpha"), Recorder("beta")
    judge = Recorder("judge", reply=lambda n: f"synthesis {n}")
    engine = ConsortiumEngine([alpha, beta], judge, "moa", layers=2, seed=1, member_retries=0)
    first = await engine.execute("first question")
    assert first.success and first.result == "synthesis 1"
    assert (first.metadata["strategy"], first.metadata["iterations"]) == ("moa", 2)
    assert first.metadata["stop_reason"] == "aggregated"
    second = await engine.execute("second question")
    assert second.result == "synthesis 2"
    assert "synthesis 1" in "\n".join(str(m["content"]) for m in alpha.conversations[2])


async def test_an_aggregator_that_wraps_the_engine_is_refused(bus: MessageBus) -> None:
    from llmgine.engines.consortium import ConsortiumEngine

    wrapper = FunctionModel(lambda m, i: "never asked")
    engine = ConsortiumEngine(
        [FunctionModel(lambda m, i: "a"), FunctionModel(lambda m, i: "b")],
        strategy=MoaStrategy(aggregator=wrapper),
    )
    wrapper.engine = engine  # type: ignore[attr-defined]
    result = await engine.execute("x")
    assert not result.success
    assert "cannot contain itself" in (result.error or "")


# -- the reference cache ---------------------------------------------------------------------


async def test_a_turn_asked_again_on_the_same_state_reuses_the_references(
    bus: MessageBus,
) -> None:
    alpha, beta = Recorder("alpha"), Recorder("beta")
    hits: list[MoaReferenceCacheHitEvent] = []
    bus.register_event_handler(MoaReferenceCacheHitEvent, hits.append)
    strategy = MoaStrategy(layers=2)
    judge = Recorder("judge", reply=lambda n: f"synthesis {n}")
    first = await strategy.run(make_run([alpha, beta], judge), "What is MoA?")
    assert len(alpha.prompts) == 2 and hits == []
    # The same request on the same history (say, the first turn's answer was not kept).
    again = await strategy.run(make_run([alpha, beta], judge), "What is MoA?")
    assert len(alpha.prompts) == len(beta.prompts) == 2  # not asked again
    assert [(e.stage, e.references) for e in hits] == [("layer 1", 2), ("layer 2", 2)]
    assert len(hits[0].view_hash) == 64 and hits[0].members == ["Member A", "Member B"]
    assert again.answer == "synthesis 2" and len(again.answers) == 4
    assert again.details["cache_hits"] == 2 and first.details["cache_hits"] == 0
    # A new user message is a new state: the references answer again.
    await strategy.run(make_run([alpha, beta], judge), "And what is a council?")
    assert len(alpha.prompts) == 4 and len(hits) == 2
    history = [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]
    await strategy.run(make_run([alpha, beta], judge, history=history), "What is MoA?")
    assert len(alpha.prompts) == 6 and len(hits) == 2


async def test_failed_references_are_not_kept(bus: MessageBus) -> None:
    broken = Recorder("broken", fail=True)
    strategy = MoaStrategy(layers=1)
    for _ in range(2):
        with pytest.raises(EngineError):
            await strategy.run(make_run([broken], Recorder("judge")), "q")
    assert len(broken.prompts) == 2


def last_user(messages: list[dict[str, Any]]) -> str:
    return str(next(m for m in reversed(messages) if m["role"] == "user")["content"])


def aggregator_with_a_retry(failures: int) -> tuple[FunctionModel, list[list[dict[str, Any]]]]:
    """An acting aggregator: a tool call, then ``failures`` retryable errors, then an answer."""
    calls: list[list[dict[str, Any]]] = []

    def act(messages: list[dict[str, Any]], info: Any) -> Any:
        calls.append(messages)
        if not any(m["role"] == "tool" for m in messages):
            return ToolCall("c1", "lookup", '{"query": "moa"}')
        if len(calls) <= 1 + failures:
            raise ProviderServerError("overloaded", provider="function", model="actor")
        return "the answer"

    fast = RetryPolicy(initial_delay=0.001, max_delay=0.001, jitter=0, max_attempts=3)
    return FunctionModel(act, name="actor", retry=fast), calls


async def test_a_retried_aggregator_call_on_the_same_tool_results_reuses_the_advice(
    bus: MessageBus,
) -> None:
    alpha = Recorder("alpha")
    hits: list[MoaReferenceCacheHitEvent] = []
    bus.register_event_handler(MoaReferenceCacheHitEvent, hits.append)
    actor, calls = aggregator_with_a_retry(failures=1)
    strategy = MoaStrategy(layers=1, aggregator_tools=[lookup], tool_advice_rounds=3)
    outcome = await strategy.run(make_run([alpha], actor), "What does the lookup say?")
    assert outcome.answer == "the answer"
    assert len(calls) == 3  # the tool call, the failed call, its retry
    assert len(alpha.prompts) == 2  # layer 1 and one round of advice, not two
    assert [e.stage for e in hits] == ["advice"]
    assert outcome.details["advice_rounds"] == 1 and outcome.details["cache_hits"] == 1
    # The retry was sent the very same advice.
    assert last_user(calls[1]) == last_user(calls[2])
    assert "Advice of the assistants" in last_user(calls[2])


async def test_the_backup_aggregator_reuses_the_advice_on_the_same_state(bus: MessageBus) -> None:
    alpha = Recorder("alpha")
    main, _ = aggregator_with_a_retry(failures=5)  # gives up after its retries
    backup, backup_calls = aggregator_with_a_retry(failures=0)
    strategy = MoaStrategy(layers=1, aggregator_tools=[lookup], tool_advice_rounds=3)
    outcome = await strategy.run(make_run([alpha], main, backup), "What does the lookup say?")
    assert outcome.answer == "the answer" and "backup aggregator answered" in str(
        outcome.fallback_reason
    )
    # Layer 1 and one round of advice: the backup's tool result is the same state.
    assert len(alpha.prompts) == 2
    assert outcome.details["cache_hits"] >= 1
    assert "Advice of the assistants" in last_user(backup_calls[-1])


def test_the_view_hash_changes_with_the_view_and_the_members() -> None:
    members = parse_members([Recorder("a"), Recorder("b")])
    view = [{"role": "user", "content": "q"}]
    assert view_hash(view, members) == view_hash([dict(view[0])], members)
    assert view_hash(view, members) != view_hash([{"role": "user", "content": "q2"}], members)
    assert view_hash(view, members) != view_hash(view, members[:1])
