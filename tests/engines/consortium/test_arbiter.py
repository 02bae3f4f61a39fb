"""The arbiter strategy: reading verdicts, rounds and stop conditions, repairs and fallbacks."""

from __future__ import annotations

from typing import Any

import pytest
from consortium_helpers import Judge, failing, member, verdict

from llmgine.bus.bus import MessageBus
from llmgine.engines.consortium import (
    ConsortiumCombineEvent,
    ConsortiumEngine,
    ConsortiumIterationEvent,
)
from llmgine.engines.consortium.strategies.arbiter import (
    ArbiterStrategy,
    ArbiterVerdict,
    Unreadable,
    parse_arbiter_text,
    parse_confidence,
)
from llmgine.errors import ProviderAuthError, ProviderServerError
from llmgine.models.retry import RetryPolicy
from llmgine.testing import FunctionModel

TAGGED = """<synthesis>Use a list.</synthesis>
<confidence>{confidence}</confidence>
<analysis>Response 2 is clearer.</analysis>
<dissent>None worth noting.</dissent>
<needs_iteration>{needs}</needs_iteration>
<refinement_areas>
- add an example
2. mention complexity
</refinement_areas>
<ranking>Response 2 > Response 1</ranking>"""


def tagged(confidence: str = "0.9", needs: str = "false") -> str:
    return TAGGED.format(confidence=confidence, needs=needs)


# -- reading the arbiter's answer ---------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("85%", 0.85),
        ("0.85", 0.85),
        ("85", 0.85),
        (85, 0.85),
        (0.4, 0.4),
        ("Confidence: 0.7 (fairly sure)", 0.7),
        ("8/10", 0.8),
        ("150%", 1.0),
        ("250", 1.0),
        ("-0.3", 0.0),
        ("1", 1.0),
    ],
)
def test_confidence_is_read_and_clamped(value: Any, expected: float) -> None:
    assert parse_confidence(value) == pytest.approx(expected)


@pytest.mark.parametrize("value", ["high", "", None, True, [0.5]])
def test_confidence_that_is_not_a_number_is_none_not_zero(value: Any) -> None:
    assert parse_confidence(value) is None


def test_a_tagged_answer_is_read_whole() -> None:
    parsed = parse_arbiter_text(tagged("85%", "yes"))
    assert isinstance(parsed, ArbiterVerdict)
    assert parsed.synthesis == "Use a list."
    assert parsed.confidence == pytest.approx(0.85)
    assert parsed.needs_iteration is True
    assert parsed.refinement_areas == ["add an example", "mention complexity"]
    assert parsed.ranking == ["Response 2", "Response 1"]
    assert parsed.analysis == "Response 2 is clearer."


def test_reasoning_sections_are_ignored() -> None:
    text = (
        "<think>Draft: <synthesis>WRONG</synthesis><confidence>0.1</confidence></think>\n"
        + tagged("0.9")
    )
    parsed = parse_arbiter_text(text)
    assert isinstance(parsed, ArbiterVerdict)
    assert parsed.synthesis == "Use a list." and parsed.confidence == pytest.approx(0.9)
    # reasoning whose opening tag was in the template (only the closing tag is seen)
    stray = parse_arbiter_text("<synthesis>no</synthesis> hmm </think>" + tagged("0.6"))
    assert isinstance(stray, ArbiterVerdict) and stray.confidence == pytest.approx(0.6)
    # reasoning never closed: skipped up to the answer
    unclosed = parse_arbiter_text("<reasoning>let me see... " + tagged("0.7"))
    assert isinstance(unclosed, ArbiterVerdict) and unclosed.synthesis == "Use a list."


def test_an_echoed_template_then_the_answer_uses_the_answer() -> None:
    text = "<synthesis>the final answer for the user</synthesis>\n" + tagged("0.8")
    parsed = parse_arbiter_text(text)
    assert isinstance(parsed, ArbiterVerdict) and parsed.synthesis == "Use a list."


def test_json_in_the_text_answer_is_read() -> None:
    parsed = parse_arbiter_text('```json\n{"synthesis": "J", "confidence": "70%"}\n```')
    assert isinstance(parsed, ArbiterVerdict)
    assert parsed.synthesis == "J" and parsed.confidence == pytest.approx(0.7)


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("", "empty"),
        ("<confidence>0.9</confidence><ranking>Response 2</ranking>", "<synthesis>"),
        ("<synthesis>x</synthesis><ranking>2, 1</ranking>", "<confidence>"),
        ("<synthesis>x</synthesis><confidence>very</confidence>", "not a number"),
    ],
)
def test_unreadable_answers_are_their_own_state(text: str, error: str) -> None:
    parsed = parse_arbiter_text(text)
    assert isinstance(parsed, Unreadable)
    assert error in parsed.error
    if "ranking" in text:  # what could be read is kept for the fallback
        assert parsed.ranking[0] == "Response 2"


def test_structured_verdicts_are_validated_leniently() -> None:
    value = ArbiterVerdict.model_validate(
        {
            "synthesis": " s ",
            "confidence": "85%",
            "ranking": "Response 3, 1",
            "refinement_areas": "a\nb",
        }
    )
    assert value.confidence == pytest.approx(0.85) and value.synthesis == "s"
    assert value.ranking == ["Response 3", "Response 1"]
    assert value.refinement_areas == ["a", "b"]


def test_options_are_checked() -> None:
    with pytest.raises(ValueError, match="min_iterations"):
        ArbiterStrategy(min_iterations=3, max_iterations=2)
    with pytest.raises(ValueError, match="confidence_threshold"):
        ArbiterStrategy(confidence_threshold=1.5)


# -- the flow --------------------------------------------------------------------------


def consortium(arbiter: Any, *members: Any, **options: Any) -> ConsortiumEngine:
    members = members or (member("short", "alpha"), member("a longer answer", "beta"))
    return ConsortiumEngine(list(members), arbiter, seed=7, member_retries=0, **options)


async def test_confidence_reached_in_the_first_round(bus: MessageBus) -> None:
    judge = Judge(verdict("S1", 0.9, ranking=["Response 1"]))
    engine = consortium(judge)
    rounds: list[ConsortiumIterationEvent] = []
    combines: list[ConsortiumCombineEvent] = []
    bus.register_event_handler(ConsortiumIterationEvent, rounds.append)
    bus.register_event_handler(ConsortiumCombineEvent, combines.append)
    result = await engine.execute("q")
    assert result.success and result.result == "S1"
    meta = result.metadata
    assert (meta["iterations"], meta["stop_reason"]) == (1, "confidence reached")
    assert meta["confidence"] == pytest.approx(0.9) and meta["fallback_reason"] is None
    assert meta["details"]["ranking"][0] in {"Member A", "Member B"}
    assert [(e.iteration, e.confidence) for e in rounds] == [(1, pytest.approx(0.9))]
    assert [e.state for e in combines] == ["started", "finished"]
    assert judge.structured == [True]


async def test_min_iterations_are_honoured_and_members_see_the_refinement(
    bus: MessageBus,
) -> None:
    seen: list[str] = []

    def alpha(messages: list[dict[str, Any]], info: Any) -> str:
        seen.append(messages[-1]["content"])
        return f"alpha {len(seen)}"

    judge = Judge(verdict("S1", 0.95, refinement_areas=["cite sources"]), verdict("S2", 0.95))
    engine = consortium(judge, FunctionModel(alpha, name="alpha"), member("beta"), min_iterations=2)
    result = await engine.execute("the question")
    assert result.result == "S2"
    assert result.metadata["iterations"] == 2
    assert result.metadata["stop_reason"] == "confidence reached"
    assert seen[0] == "the question"
    assert "the question" in seen[1] and "S1" in seen[1] and "cite sources" in seen[1]
    assert "S1" in judge.prompts[1]  # the arbiter sees its previous synthesis
    stages = {m["stage"] for m in result.metadata["members"]}
    assert stages == {"answer", "refinement 1"}


async def test_low_confidence_runs_to_max_iterations(bus: MessageBus) -> None:
    judge = Judge(verdict("S", 0.3, needs_iteration=True))
    alpha = member("a", "alpha")
    engine = consortium(judge, alpha, member("b"), max_iterations=3)
    result = await engine.execute("q")
    assert result.success and result.metadata["iterations"] == 3
    assert result.metadata["stop_reason"] == "max iterations"
    assert result.metadata["details"]["confidences"] == [0.3, 0.3, 0.3]
    assert alpha.calls == 3 and judge.calls == 3


async def test_needs_iteration_continues_even_when_confident(bus: MessageBus) -> None:
    judge = Judge(verdict("S1", 0.95, needs_iteration=True), verdict("S2", 0.9))
    result = await consortium(judge).execute("q")
    assert result.result == "S2" and result.metadata["iterations"] == 2


async def test_tagged_text_when_structured_output_fails(bus: MessageBus) -> None:
    judge = Judge(tagged("85%"))  # answers tags even when asked for JSON
    result = await consortium(judge).execute("q")
    assert result.success and result.result == "Use a list."
    assert result.metadata["confidence"] == pytest.approx(0.85)
    # structured output (with one repair), then the tagged request
    assert judge.structured == [True, True, False]
    assert "<synthesis>" in judge.prompts[-1]


async def test_parse_failure_gets_a_repair_that_succeeds(bus: MessageBus) -> None:
    judge = Judge("I think both are fine.", tagged("0.9"))
    engine = consortium(judge, structured=False)
    combines: list[ConsortiumCombineEvent] = []
    bus.register_event_handler(ConsortiumCombineEvent, combines.append)
    result = await engine.execute("q")
    assert result.success and result.result == "Use a list."
    assert result.metadata["confidence"] == pytest.approx(0.9)  # not 0
    assert result.metadata["details"]["repaired_answers"] == 1
    repair = judge.requests[1]
    assert repair[-2] == {"role": "assistant", "content": "I think both are fine."}
    assert "could not be read" in repair[-1]["content"] and "<synthesis>" in repair[-1]["content"]
    assert "unparseable" in [e.state for e in combines]


async def test_repair_fails_then_the_backup_arbiter_answers(bus: MessageBus) -> None:
    judge = Judge("nonsense", "still nonsense")
    backup = Judge(verdict("from the backup", 0.9), name="backup")
    engine = consortium(judge, structured=False, backup_arbiter=backup)
    result = await engine.execute("q")
    assert result.success and result.result == "from the backup"
    assert result.metadata["details"]["arbiter"] == "function:backup"
    assert judge.calls == 2 and backup.calls == 1


async def test_repair_fails_then_the_top_ranked_member(bus: MessageBus) -> None:
    engine = consortium(Judge("<ranking>1</ranking>"), structured=False)
    result = await engine.execute("q")
    assert result.success
    fallback = result.metadata["fallback_reason"]
    assert "also after a repair" in fallback and "top-ranked" in fallback
    # "Response 1" is whichever member the shuffle put first: its answer was used
    top = result.metadata["details"]["ranking"][0]
    (chosen,) = [m for m in result.metadata["members"] if m["label"] == top]
    assert result.result == chosen["answer"]
    assert result.metadata["stop_reason"] == "arbiter failed"
    assert result.metadata["confidence"] is None


async def test_arbiter_error_without_ranking_gives_the_longest_answer(bus: MessageBus) -> None:
    down = ProviderServerError("down", provider="function", model="judge", status=503)
    judge = Judge(down)
    judge.retry = RetryPolicy(max_attempts=1)
    engine = consortium(judge, member("short"), member("the longest answer"), failing())
    combines: list[ConsortiumCombineEvent] = []
    bus.register_event_handler(ConsortiumCombineEvent, combines.append)
    result = await engine.execute("q")
    assert result.success and result.result == "the longest answer"
    assert "longest" in result.metadata["fallback_reason"]
    assert "ProviderServerError" in result.metadata["fallback_reason"]
    assert judge.calls == 1  # a server error: no tagged-text call after it
    assert [e.state for e in combines] == ["started", "failed", "fallback"]


async def test_an_unreachable_arbiter_is_not_asked_again(bus: MessageBus) -> None:
    judge = Judge(ProviderAuthError("bad key", provider="function", model="judge", status=401))
    result = await consortium(judge).execute("q")
    assert result.success and judge.calls == 1
    assert "bad key" in result.metadata["fallback_reason"]


async def test_arbiter_failing_in_a_later_round_keeps_the_earlier_synthesis(
    bus: MessageBus,
) -> None:
    judge = Judge(verdict("S1", 0.5), "garbage")
    result = await consortium(judge).execute("q")
    assert result.success and result.result == "S1"
    assert result.metadata["confidence"] == pytest.approx(0.5)
    assert "kept the synthesis of round 1" in result.metadata["fallback_reason"]


async def test_the_arbiter_sees_no_model_names(bus: MessageBus) -> None:
    judge = Judge(verdict())
    members = [
        member("first answer", "gpt-secret-9"),
        member("second answer", "claude-hidden-7"),
        failing("gemini-private-3"),
    ]
    engine = ConsortiumEngine(members, judge, member_retries=0)
    result = await engine.execute("q")
    prompt = "\n".join(str(m["content"]) for m in judge.requests[0])
    for name in ("gpt-secret-9", "claude-hidden-7", "gemini-private-3", "function:", "Member "):
        assert name not in prompt
    for name in ("Response 1", "Response 2", "Response 3", "first answer", "second answer"):
        assert name in prompt
    assert 'status="failed"' in prompt and "[model] is down" in prompt
    assert result.success


async def test_a_failed_member_is_noted_and_the_run_goes_on(bus: MessageBus) -> None:
    judge = Judge(verdict("S", 0.9))
    engine = consortium(judge, member("ok"), failing("broken"))
    result = await engine.execute("q")
    assert result.success and result.result == "S"
    states = {m["model"]: (m["ok"], m["error"]) for m in result.metadata["members"]}
    assert states["function:member"] == (True, None)
    assert states["function:broken"][0] is False
    assert "RuntimeError" in states["function:broken"][1]
    assert "no answer: RuntimeError" in judge.prompts[0]
