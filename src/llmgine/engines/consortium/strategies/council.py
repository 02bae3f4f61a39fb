"""The council strategy (after convene-council): two participants deliberate until they agree.

The first two members (Participants A and B) answer; each round, each reviews
the other's answer: ``AGREE``, ``DISAGREE`` (a critique: the other revises) or
``NEED_INFO`` (a question: the other clarifies). On agreement the configured
participant writes the final answer; after ``max_rounds`` without it, the
result gives both final opinions, labelled. Reviews come from structured
output, else tagged text (:func:`parse_review`); an unreadable one is DISAGREE.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from llmgine.engines.consortium.members import Member
from llmgine.engines.consortium.run import (
    BudgetExceeded,
    ConsortiumOutcome,
    ConsortiumRun,
    MemberAnswer,
)
from llmgine.engines.consortium.strategies.base import Strategy
from llmgine.engines.consortium.strategies.council_format import (
    CouncilReview,
    Review,
    parse_review,
)
from llmgine.errors import ConfigurationError, EngineError, ProviderError, StructuredOutputError

__all__ = ["CouncilReview", "CouncilStrategy", "parse_review"]

Messages = list[dict[str, Any]]
T = TypeVar("T")

SYSTEM_PROMPT = (
    "You are {name}, one of two participants of a council that answers a question together. "
    "You answer, review the other participant's answer honestly - agreeing only when it is "
    "right, not to be polite - and revise your own when a critique shows it is wrong."
)

REVIEW_TASK = (
    "Review {other}'s answer. Use the status AGREE if it is correct and complete enough to be "
    "the final answer (differences of wording or detail are fine); DISAGREE if it is wrong, "
    "incomplete or misleading, with a concrete critique as the text; NEED_INFO if you cannot "
    "judge it without more information from {other}, with one precise question as the text."
)

TEXT_FORMAT = (
    "Reply in exactly this format:\n<status>AGREE, DISAGREE or NEED_INFO</status>\n"
    "<text>why you agree, your critique, or your question</text>"
)


@dataclass
class _Participant:
    name: str
    member: Member
    answer: str = ""
    clarifications: list[tuple[str, str]] = field(default_factory=list)
    review: Review | None = None  # of the other's answer

    def shown(self) -> str:
        """The answer, with the clarifications given since it was written."""
        extra = [f"(Asked: {q})\nClarification: {a}" for q, a in self.clarifications]
        return "\n\n".join([self.answer, *extra])


@dataclass
class _State:
    a: _Participant
    b: _Participant
    ignored: list[str] = field(default_factory=list)  # labels of members past the second
    round: int = 0
    rounds: list[dict[str, Any]] = field(default_factory=list)
    final_writer: str | None = None

    def other(self, participant: _Participant) -> _Participant:
        return self.b if participant is self.a else self.a

    def details(self) -> dict[str, Any]:
        return {
            "participants": {p.name: p.member.label for p in (self.a, self.b)},
            "rounds": self.rounds,
            "final_writer": self.final_writer,
            "opinions": {p.name: p.answer for p in (self.a, self.b)},
            "unused_members": self.ignored,
        }


class CouncilStrategy(Strategy):
    """Two participants answer, review each other and revise until both agree.

    Args:
        max_rounds: Most review rounds.
        final_writer: Who writes the final answer on agreement: ``"first"``,
            ``"second"``, ``"A"``/``"B"`` or a member label (``"Member B"``).
        structured: Ask for reviews as structured output first (False: tagged text only).
        structured_retries: Re-asks when a structured review does not validate.

    Raises:
        ValueError: ``max_rounds`` below 1, or an empty ``final_writer``.
    """

    name = "council"

    def __init__(
        self,
        max_rounds: int = 3,
        final_writer: str = "first",
        *,
        structured: bool = True,
        structured_retries: int = 0,
    ) -> None:
        if max_rounds < 1:
            raise ValueError(f"max_rounds must be at least 1, got {max_rounds}")
        if not str(final_writer).strip():
            raise ValueError("final_writer must be 'first', 'second' or a participant's label")
        self.max_rounds = max_rounds
        self.final_writer = str(final_writer).strip()
        self.structured = structured
        self.structured_retries = max(0, structured_retries)

    async def run(self, run: ConsortiumRun, prompt: str) -> ConsortiumOutcome:
        """Deliberate; the final answer on agreement, else both labelled opinions.

        Raises:
            ValueError: fewer than two members, or a ``final_writer`` that is
                neither participant.
            EngineError: neither participant answered.
        """
        if len(run.members) < 2:
            raise ValueError(
                f"the council strategy needs two members (the participants), got {len(run.members)}"
            )
        state = _State(
            _Participant("Participant A", run.members[0]),
            _Participant("Participant B", run.members[1]),
            ignored=[member.label for member in run.members[2:]],
        )
        writer = self._writer(state)
        try:
            return await self._deliberate(run, prompt, state, writer)
        except BudgetExceeded as exc:
            if not (state.a.answer or state.b.answer):
                raise
            return self._disagreed(run, state, str(exc), fallback=str(exc))

    def _writer(self, state: _State) -> _Participant:
        choice = self.final_writer.lower()
        for participant, names in ((state.a, ("first", "a")), (state.b, ("second", "b"))):
            labels = (*names, participant.name.lower(), participant.member.label.lower())
            if choice in labels:
                return participant
        raise ValueError(
            f"final_writer {self.final_writer!r} is neither 'first', 'second' nor a participant "
            f"({state.a.member.label}, {state.b.member.label})"
        )

    # -- the rounds -----------------------------------------------------------------

    async def _deliberate(
        self, run: ConsortiumRun, prompt: str, state: _State, writer: _Participant
    ) -> ConsortiumOutcome:
        a, b = state.a, state.b
        await run.status("the participants are answering")
        answers = await run.ask_members(
            lambda member: self._messages(run, a if member is a.member else b, prompt),
            stage="answer",
            members=[a.member, b.member],
        )
        for participant, answer in zip((a, b), answers, strict=True):
            participant.answer = (answer.content or "").strip() if answer.ok else ""
        if not (a.answer or b.answer):
            raise EngineError("no participant answered")
        if not (a.answer and b.answer):
            return await self._one_answered(run, state, answers)
        for round_ in range(1, self.max_rounds + 1):
            state.round = round_
            await run.status(f"round {round_}: the participants review each other")
            a.review, b.review = await _all(
                self._review(run, prompt, a, b, round_), self._review(run, prompt, b, a, round_)
            )
            record: dict[str, Any] = {
                "round": round_,
                "statuses": {a.name: a.review.status, b.name: b.review.status},
                "reviews": {a.name: a.review.text, b.name: b.review.text},
                "notes": [n for n in (a.review.note, b.review.note) if n],
            }
            state.rounds.append(record)
            summary = f"round {round_}: A {a.review.status}, B {b.review.status}"
            if a.review.status == b.review.status == "AGREE":
                await run.iteration(self.name, round_, summary + "; agreement", **record)
                return await self._agreed(run, prompt, state, writer)
            if round_ < self.max_rounds:
                record["actions"] = await _all(
                    self._follow_up(run, prompt, a, b, round_),
                    self._follow_up(run, prompt, b, a, round_),
                )
            await run.iteration(self.name, round_, summary, **record)
        return self._disagreed(run, state, f"no agreement after {state.round} rounds")

    def _messages(self, run: ConsortiumRun, me: _Participant, task: str) -> Messages:
        return [
            {"role": "system", "content": SYSTEM_PROMPT.format(name=me.name)},
            *run.history,
            {"role": "user", "content": task},
        ]

    def _context(self, prompt: str, me: _Participant, other: _Participant) -> str:
        return (
            f"<question>\n{prompt}\n</question>\n\n<your_answer>\n{me.answer}\n</your_answer>\n\n"
            f'<answer of="{other.name}">\n{other.shown()}\n</answer>'
        )

    async def _review(
        self, run: ConsortiumRun, prompt: str, me: _Participant, other: _Participant, round_: int
    ) -> Review:
        """``me``'s review of ``other``'s answer; never raises for a bad or missing one."""
        task = f"{self._context(prompt, me, other)}\n\n{REVIEW_TASK.format(other=other.name)}"
        messages = self._messages(run, me, task)
        stage = f"review {round_}"
        if self.structured:
            value, error = await self._structured(run, me.member, messages, stage)
            if value is not None:
                return Review(value.status, value.text.strip())
            if error is not None:
                return Review("DISAGREE", note=f"{me.name} gave no review ({error})")
        text_messages = self._messages(run, me, f"{task}\n\n{TEXT_FORMAT}")
        (answer,) = await run.ask_members(text_messages, stage=stage, members=[me.member])
        if not answer.ok:
            return Review("DISAGREE", note=f"{me.name} gave no review ({answer.error})")
        review = parse_review(answer.content)
        if review is None:
            note = f"{me.name}'s review could not be read; counted as DISAGREE"
            return Review("DISAGREE", (answer.content or "").strip(), note)
        return review

    async def _structured(
        self, run: ConsortiumRun, member: Member, messages: Messages, stage: str
    ) -> tuple[CouncilReview | None, str | None]:
        """The structured review, or None and an error when a text answer would fail too."""
        await run.member_event(member, stage, "started")
        started = time.monotonic()
        try:
            async with asyncio.timeout(run.member_timeout):
                value: CouncilReview = await run.ask(
                    member.model,
                    messages,
                    response_model=CouncilReview,
                    max_validation_retries=self.structured_retries,
                )
        except BudgetExceeded:
            raise
        except Exception as exc:  # a text answer may still work, unless the model is unreachable
            error = f"{type(exc).__name__}: {exc}"
            answer = MemberAnswer(member, stage, error=error, duration_s=time.monotonic() - started)
            await run.member_event(member, stage, "failed", answer)
            unreachable = isinstance(exc, TimeoutError | ConfigurationError) or (
                isinstance(exc, ProviderError) and not isinstance(exc, StructuredOutputError)
            )
            return None, error if unreachable else None
        content = f"{value.status}: {value.text}"
        answer = MemberAnswer(member, stage, content, duration_s=time.monotonic() - started)
        run.answers.append(answer)
        await run.member_event(member, stage, "answered", answer)
        return value, None

    async def _follow_up(
        self, run: ConsortiumRun, prompt: str, me: _Participant, other: _Participant, round_: int
    ) -> str:
        """``me`` acts on ``other``'s review of its answer: revise, clarify or nothing."""
        review = other.review
        if review is None or review.status == "AGREE":
            return "none"
        if not review.text:  # a failed review: nothing to act on
            return "none (no review to act on)"
        context = self._context(prompt, me, other)
        if review.status == "NEED_INFO":
            task = (
                f"{context}\n\n{other.name} needs more information to judge your answer and "
                f"asks:\n<question_from>\n{review.text}\n</question_from>\n\nAnswer the "
                "question directly and precisely."
            )
            stage = f"clarification {round_}"
        else:
            task = (
                f"{context}\n\n{other.name} reviewed your answer and disagrees:\n<critique>\n"
                f"{review.text}\n</critique>\n\nRevise your answer: keep what is right, fix what "
                "the critique shows to be wrong, and where you still think you are right, say "
                "why. Reply with your complete revised answer only."
            )
            stage = f"revision {round_}"
        messages = self._messages(run, me, task)
        (answer,) = await run.ask_members(messages, stage=stage, members=[me.member])
        if not answer.ok:
            return f"{stage.split()[0]} failed ({answer.error})"
        if review.status == "NEED_INFO":
            me.clarifications.append((review.text, answer.content or ""))
            return "clarified"
        me.answer, me.clarifications = answer.content or me.answer, []
        return "revised"

    # -- outcomes ---------------------------------------------------------------------

    async def _agreed(
        self, run: ConsortiumRun, prompt: str, state: _State, writer: _Participant
    ) -> ConsortiumOutcome:
        failures: list[str] = []
        for author in (writer, state.other(writer)):
            task = (
                f"{self._context(prompt, author, state.other(author))}\n\nYou and "
                f"{state.other(author).name} reviewed each other's answers and agree. Write the "
                "final answer to the question for the user: one complete, self-contained answer "
                "that keeps what is right in both. Reply with the final answer only."
            )
            model = author.member.model
            await run.combine_event("started", model)
            started = time.monotonic()
            try:
                (answer,) = await run.ask_members(
                    self._messages(run, author, task), stage="final answer", members=[author.member]
                )
            except BudgetExceeded as exc:  # the agreed answer is the best so far
                failures.append(str(exc))
                break
            took = time.monotonic() - started
            final = (answer.content or "").strip() if answer.ok else ""
            if final:
                await run.combine_event("finished", model, duration_s=took)
                state.final_writer = author.name
                how = f"{author.name} wrote the final answer" if failures else None
                return self._outcome(run, state, final, "agreement", failures, how)
            error = answer.error or "an empty answer"
            await run.combine_event("failed", model, reason=error, duration_s=took)
            failures.append(f"{author.name} could not write the final answer ({error})")
        how = f"used {writer.name}'s agreed answer"
        await run.combine_event("fallback", reason="; ".join([*failures, how]))
        return self._outcome(run, state, writer.answer, "agreement", failures, how)

    def _outcome(
        self,
        run: ConsortiumRun,
        state: _State,
        answer: str,
        stop_reason: str,
        failures: list[str] | None = None,
        how: str | None = None,
    ) -> ConsortiumOutcome:
        reasons = [*(failures or []), *([how] if how else [])]
        return ConsortiumOutcome(
            answer=answer,
            strategy=self.name,
            iterations=state.round,
            stop_reason=stop_reason,
            fallback_reason="; ".join(reasons) or None,
            answers=list(run.answers),
            details=state.details(),
        )

    def _disagreed(
        self, run: ConsortiumRun, state: _State, stop_reason: str, fallback: str | None = None
    ) -> ConsortiumOutcome:
        """Both final opinions, labelled, with where each still disagrees."""
        parts = [f"The council did not reach agreement ({stop_reason})."]
        for me in (state.a, state.b):
            parts.append(f"{me.name}'s final answer:\n{me.shown() or '(no answer)'}")
        for me in (state.a, state.b):
            if me.review is not None and me.review.text:
                other = state.other(me).name
                parts.append(
                    f"{me.name} on {other}'s answer ({me.review.status}):\n{me.review.text}"
                )
        failures = [fallback] if fallback else None
        return self._outcome(run, state, "\n\n".join(parts), stop_reason, failures)

    async def _one_answered(
        self, run: ConsortiumRun, state: _State, answers: list[MemberAnswer]
    ) -> ConsortiumOutcome:
        good = state.a if state.a.answer else state.b
        bad = state.other(good)
        error = next((a.error for a in answers if a.member is bad.member), None) or "empty answer"
        reason = f"{bad.name} gave no answer ({error})"
        how = f"used {good.name}'s answer"
        await run.combine_event("fallback", reason=f"{reason}; {how}")
        return self._outcome(run, state, good.answer, "participant failed", [reason], how)


async def _all(*calls: Awaitable[T]) -> list[T]:
    """Await ``calls`` together; the first error is raised once all have finished."""
    results = await asyncio.gather(*calls, return_exceptions=True)
    for result in results:
        if isinstance(result, BaseException):
            raise result
    return list(results)  # type: ignore[arg-type]
