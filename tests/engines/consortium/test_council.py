"""The council strategy: reviews, revisions, clarifications, agreement and its absence."""

from __future__ import annotations

import json
from typing import Any

import pytest

from llmgine.bus.bus import MessageBus
from llmgine.engines.base import Engine
from llmgine.engines.consortium.events import (
    ConsortiumCombineEvent,
    ConsortiumIterationEvent,
    ConsortiumMemberEvent,
)
from llmgine.engines.consortium.members import parse_members
from llmgine.engines.consortium.run import ConsortiumRun
from llmgine.engines.consortium.strategies.council import (
    CouncilReview,
    CouncilStrategy,
    parse_review,
)
from llmgine.engines.messages import EngineCommand
from llmgine.errors import EngineError
from llmgine.messages.commands import CommandResult
from llmgine.models.interface import Model
from llmgine.testing import FunctionModel

AGREE = {"status": "AGREE", "text": "looks right"}


class Host(Engine):
    """The smallest engine a run needs (ids, session, bus, usage)."""

    async def handle_command(self, command: EngineCommand) -> CommandResult:
        raise NotImplementedError


def make_run(*members: Model, **options: Any) -> ConsortiumRun:
    return ConsortiumRun(Host(), parse_members(list(members)), member_retries=0, **options)


def kind_of(prompt: str) -> str:
    if "Reply with the final answer only" in prompt:
        return "final"
    if "reviewed your answer and disagrees" in prompt:
        return "revision"
    if "needs more information to judge your answer" in prompt:
        return "clarification"
    if "'s answer. Use the status AGREE" in prompt:
        return "review"
    return "answer"


class Seat(FunctionModel):
    """A participant: answers, reviews (in turn, from ``reviews``), revises, clarifies, writes.

    A review that is a dict is sent as JSON; a str is sent as it is, to the
    structured request (where it fails validation) and again to the text one.
    ``fail`` names the kinds of request that raise. ``log`` records
    ``(kind, prompt)``; ``structured`` whether each call asked for structured output.
    """

    def __init__(
        self, name: str, reviews: list[Any] | None = None, fail: tuple[str, ...] = ()
    ) -> None:
        self.label = name
        self.reviews = list(reviews or [])
        self.fail = fail
        self.log: list[tuple[str, str]] = []
        self.structured: list[bool] = []
        self.revisions = 0
        super().__init__(self._reply, name=f"{name}-model")

    def kinds(self) -> list[str]:
        return [kind for kind, _ in self.log]

    def prompts(self, kind: str) -> list[str]:
        return [prompt for k, prompt in self.log if k == kind]

    def _reply(self, messages: list[dict[str, Any]], info: Any) -> str:
        prompt = str(messages[-1]["content"])
        kind = kind_of(prompt)
        structured = info.request.response_format is not None
        self.log.append((kind, prompt))
        self.structured.append(structured)
        if kind in self.fail or "all" in self.fail:
            raise RuntimeError(f"{self.label} {kind} failed")
        if kind == "review":
            reply = self.reviews[0]
            if isinstance(reply, dict) or not structured:
                self.reviews.pop(0)
            return json.dumps(reply) if isinstance(reply, dict) else reply
        if kind == "revision":
            self.revisions += 1
            return f"{self.label} revision {self.revisions}"
        if kind == "clarification":
            return f"{self.label} clarifies: Y is 3"
        if kind == "final":
            return f"final answer by {self.label}"
        return f"{self.label} initial answer"


# -- reading reviews ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "status", "body"),
    [
        ('{"status": "agree", "text": "fine"}', "AGREE", "fine"),
        (
            '```json\n{"status": "NEED INFO", "text": "which year?"}\n```',
            "NEED_INFO",
            "which year?",
        ),
        ("<status>DISAGREE</status>\n<text>wrong unit</text>", "DISAGREE", "wrong unit"),
        ("<think>I AGREE, maybe</think><status>disagree</status><text>no</text>", "DISAGREE", "no"),
        ("**Status:** NEED_INFO\nWhich version?", "NEED_INFO", "Which version?"),
        ("Status: needs information\nWhat is X?", "NEED_INFO", "What is X?"),
        ("AGREE. The answer is right.", "AGREE", "The answer is right."),
        ("Disagree - it misses the edge case.", "DISAGREE", "it misses the edge case."),
        ("After checking, my verdict is DISAGREE: the sum is 5.", "DISAGREE", None),
    ],
)
def test_reviews_are_read_from_json_tags_lines_and_keywords(
    text: str, status: str, body: str | None
) -> None:
    review = parse_review(text)
    assert review is not None and review.status == status
    assert review.text == (body if body is not None else text)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "I don't fully agree with it.",
        "I AGREE on the first part but DISAGREE on the second.",
        "<status>MAYBE</status>",
    ],
)
def test_unreadable_reviews_give_none(text: str) -> None:
    assert parse_review(text) is None


def test_the_structured_review_accepts_loose_statuses() -> None:
    assert CouncilReview.model_validate({"status": "need-info"}).status == "NEED_INFO"


# -- the rounds -------------------------------------------------------------------------------


async def test_agreement_in_the_first_round(bus: MessageBus) -> None:
    a, b = Seat("A", [AGREE]), Seat("B", [AGREE])
    rounds: list[ConsortiumIterationEvent] = []
    combines: list[ConsortiumCombineEvent] = []
    bus.register_event_handler(ConsortiumIterationEvent, rounds.append)
    bus.register_event_handler(ConsortiumCombineEvent, combines.append)

    outcome = await CouncilStrategy().run(make_run(a, b), "What is 2 + 2?")

    assert outcome.answer == "final answer by A" and outcome.strategy == "council"
    assert (outcome.iterations, outcome.stop_reason, outcome.fallback_reason) == (
        1,
        "agreement",
        None,
    )
    assert a.kinds() == ["answer", "review", "final"] and b.kinds() == ["answer", "review"]
    assert a.structured == [False, True, False]
    review = a.prompts("review")[0]
    assert "B initial answer" in review and "A initial answer" in review
    assert "What is 2 + 2?" in review and "B-model" not in review
    assert [(e.iteration, e.summary) for e in rounds] == [
        (1, "round 1: A AGREE, B AGREE; agreement")
    ]
    assert [e.state for e in combines] == ["started", "finished"]
    assert outcome.details["final_writer"] == "Participant A"
    assert outcome.details["participants"] == {
        "Participant A": "Member A",
        "Participant B": "Member B",
    }


async def test_a_disagreement_is_revised_then_agreed(bus: MessageBus) -> None:
    critique = {"status": "DISAGREE", "text": "B forgot the carry"}
    a, b = Seat("A", [critique, AGREE]), Seat("B", [AGREE, AGREE])
    rounds: list[ConsortiumIterationEvent] = []
    bus.register_event_handler(ConsortiumIterationEvent, rounds.append)

    outcome = await CouncilStrategy(final_writer="second").run(make_run(a, b), "q")

    assert outcome.answer == "final answer by B" and outcome.iterations == 2
    assert a.kinds() == ["answer", "review", "review"]
    assert b.kinds() == ["answer", "review", "revision", "review", "final"]
    assert "B forgot the carry" in b.prompts("revision")[0]
    assert "B revision 1" in a.prompts("review")[1]  # A reviewed the revised answer
    assert rounds[0].details["actions"] == ["none", "revised"]
    assert rounds[0].details["statuses"] == {"Participant A": "DISAGREE", "Participant B": "AGREE"}
    assert outcome.details["opinions"]["Participant B"] == "B revision 1"


async def test_need_info_gets_a_clarification_round(bus: MessageBus) -> None:
    question = {"status": "NEED_INFO", "text": "What is Y?"}
    a, b = Seat("A", [question, AGREE]), Seat("B", [AGREE, AGREE])
    outcome = await CouncilStrategy().run(make_run(a, b), "q")
    assert outcome.stop_reason == "agreement" and outcome.answer == "final answer by A"
    assert b.kinds() == ["answer", "review", "clarification", "review"]
    assert "What is Y?" in b.prompts("clarification")[0]
    second_review = a.prompts("review")[1]
    assert "(Asked: What is Y?)\nClarification: B clarifies: Y is 3" in second_review
    assert outcome.details["rounds"][0]["actions"] == ["none", "clarified"]


async def test_no_agreement_after_max_rounds_returns_both_labelled_opinions(
    bus: MessageBus,
) -> None:
    a = Seat("A", [{"status": "DISAGREE", "text": f"B is wrong ({n})"} for n in (1, 2)])
    b = Seat("B", [{"status": "DISAGREE", "text": f"A is wrong ({n})"} for n in (1, 2)])
    rounds: list[ConsortiumIterationEvent] = []
    bus.register_event_handler(ConsortiumIterationEvent, rounds.append)

    outcome = await CouncilStrategy(max_rounds=2).run(make_run(a, b), "q")

    assert outcome.stop_reason == "no agreement after 2 rounds" and outcome.iterations == 2
    assert outcome.fallback_reason is None
    assert "Participant A's final answer:\nA revision 1" in outcome.answer
    assert "Participant B's final answer:\nB revision 1" in outcome.answer
    assert "Participant A on Participant B's answer (DISAGREE):\nB is wrong (2)" in outcome.answer
    assert a.kinds() == b.kinds() == ["answer", "review", "revision", "review"]
    assert [e.iteration for e in rounds] == [1, 2] and "final" not in a.kinds()


async def test_an_unparseable_review_counts_as_disagreement(bus: MessageBus) -> None:
    a, b = Seat("A", ["hmm, hard to say"]), Seat("B", [AGREE])
    outcome = await CouncilStrategy(max_rounds=1).run(make_run(a, b), "q")
    assert outcome.stop_reason == "no agreement after 1 rounds"
    assert a.structured == [False, True, False]  # structured failed, then the text format
    assert "<status>AGREE, DISAGREE or NEED_INFO</status>" in a.log[2][1]
    (record,) = outcome.details["rounds"]
    assert record["statuses"]["Participant A"] == "DISAGREE"
    assert record["notes"] == ["Participant A's review could not be read; counted as DISAGREE"]


async def test_text_only_reviews(bus: MessageBus) -> None:
    tagged = "<status>AGREE</status><text>fine</text>"
    a, b = Seat("A", [tagged]), Seat("B", ["AGREE - correct"])
    outcome = await CouncilStrategy(structured=False).run(make_run(a, b), "q")
    assert outcome.stop_reason == "agreement"
    assert a.structured == [False] * 3 and b.structured == [False] * 2


async def test_review_events_are_published_for_structured_reviews(bus: MessageBus) -> None:
    events: list[tuple[str, str, str]] = []
    bus.register_event_handler(
        ConsortiumMemberEvent, lambda e: events.append((e.label, e.stage, e.state))
    )
    run = make_run(Seat("A", [AGREE]), Seat("B", [AGREE]))
    await CouncilStrategy().run(run, "q")
    assert ("Member A", "review 1", "answered") in events
    assert ("Member B", "review 1", "started") in events
    assert [a.stage for a in run.answers].count("review 1") == 2


# -- failures and settings ---------------------------------------------------------------------


async def test_fewer_than_two_members_is_a_clear_error(bus: MessageBus) -> None:
    with pytest.raises(ValueError, match="needs two members"):
        await CouncilStrategy().run(make_run(Seat("A")), "q")


async def test_a_failed_participant_leaves_the_other_answer(bus: MessageBus) -> None:
    a, b = Seat("A", [AGREE]), Seat("B", fail=("all",))
    outcome = await CouncilStrategy().run(make_run(a, b), "q")
    assert outcome.answer == "A initial answer" and outcome.stop_reason == "participant failed"
    assert outcome.fallback_reason == (
        "Participant B gave no answer (RuntimeError: B answer failed); used Participant A's answer"
    )
    assert a.kinds() == ["answer"]


async def test_no_participant_answering_is_an_error(bus: MessageBus) -> None:
    run = make_run(Seat("A", fail=("all",)), Seat("B", fail=("all",)))
    with pytest.raises(EngineError, match="no participant answered"):
        await CouncilStrategy().run(run, "q")


async def test_a_participant_failing_mid_council_is_noted(bus: MessageBus) -> None:
    a, b = Seat("A", [AGREE, AGREE]), Seat("B", fail=("review",))
    outcome = await CouncilStrategy(max_rounds=2).run(make_run(a, b), "q")
    assert outcome.stop_reason == "no agreement after 2 rounds"
    notes = outcome.details["rounds"][0]["notes"]
    assert notes and notes[0].startswith("Participant B gave no review (")
    assert outcome.details["rounds"][0]["actions"] == ["none (no review to act on)", "none"]
    assert "Participant B's final answer:\nB initial answer" in outcome.answer


async def test_a_failed_final_writer_hands_over_to_the_other(bus: MessageBus) -> None:
    a, b = Seat("A", [AGREE], fail=("final",)), Seat("B", [AGREE])
    outcome = await CouncilStrategy().run(make_run(a, b), "q")
    assert outcome.answer == "final answer by B" and outcome.stop_reason == "agreement"
    assert outcome.fallback_reason == (
        "Participant A could not write the final answer (RuntimeError: A final failed); "
        "Participant B wrote the final answer"
    )


async def test_both_writers_failing_keeps_the_agreed_answer(bus: MessageBus) -> None:
    a, b = Seat("A", [AGREE], fail=("final",)), Seat("B", [AGREE], fail=("final",))
    outcome = await CouncilStrategy().run(make_run(a, b), "q")
    assert outcome.answer == "A initial answer"
    assert (outcome.fallback_reason or "").endswith("used Participant A's agreed answer")


async def test_the_final_writer_may_be_a_member_label(bus: MessageBus) -> None:
    run = make_run(Seat("A", [AGREE]), Seat("B", [AGREE]), Seat("C"))
    outcome = await CouncilStrategy(final_writer="Member B").run(run, "q")
    assert outcome.answer == "final answer by B"
    assert outcome.details["unused_members"] == ["Member C"]
    with pytest.raises(ValueError, match="neither 'first', 'second' nor a participant"):
        await CouncilStrategy(final_writer="Member C").run(make_run(Seat("A"), Seat("B")), "q")


def test_settings_are_checked() -> None:
    with pytest.raises(ValueError, match="max_rounds"):
        CouncilStrategy(max_rounds=0)
    with pytest.raises(ValueError, match="final_writer"):
        CouncilStrategy(final_writer=" ")


async def test_through_the_consortium_engine(bus: MessageBus) -> None:
    from llmgine.engines.consortium import ConsortiumEngine

    a, b = Seat("A", [{"status": "DISAGREE", "text": "too short"}, AGREE]), Seat("B", [AGREE] * 2)
    engine = ConsortiumEngine([a, b], strategy="council", max_rounds=2, member_retries=0)
    result = await engine.execute("q")
    assert result.success and result.result == "final answer by A"
    assert (result.metadata["strategy"], result.metadata["iterations"]) == ("council", 2)
    assert result.metadata["stop_reason"] == "agreement"
    lonely = ConsortiumEngine([Seat("A")], strategy="council", member_retries=0)
    failed = await lonely.execute("q")
    assert not failed.success and "needs two members" in (failed.error or "")


async def test_the_budget_stops_the_council_with_both_opinions(bus: MessageBus) -> None:
    from llmgine.engines.consortium.run import Budget

    a, b = Seat("A", [AGREE]), Seat("B", [AGREE])
    outcome = await CouncilStrategy().run(make_run(a, b, budget=Budget(max_tokens=1)), "q")
    assert outcome.stop_reason.startswith("budget:") and outcome.fallback_reason
    assert "Participant A's final answer:\nA initial answer" in outcome.answer
    assert a.kinds() == b.kinds() == ["answer"]
