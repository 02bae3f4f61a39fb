"""One consortium turn's machinery, shared by the strategies.

:class:`ConsortiumRun` asks members concurrently (a cap, a timeout and
retries per member; a failed member becomes a labelled note, not a failure),
makes single calls for combiners, keeps the budget, and publishes progress
events. Strategies (``strategies/``) decide who is asked what.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from llmgine.engines.consortium.events import (
    ConsortiumCombineEvent,
    ConsortiumIterationEvent,
    ConsortiumMemberEvent,
)
from llmgine.engines.consortium.members import Member
from llmgine.messages.events import Event
from llmgine.models.interface import Model
from llmgine.models.response import LLMResponse, Usage

if TYPE_CHECKING:
    from llmgine.engines.base import Engine

__all__ = [
    "Budget",
    "BudgetExceeded",
    "ConsortiumOutcome",
    "ConsortiumRun",
    "MemberAnswer",
    "fallback_answer",
]

Messages = list[dict[str, Any]]


@dataclass
class MemberAnswer:
    """What one member said (or why it said nothing) at one stage."""

    member: Member
    stage: str
    content: str | None = None
    error: str | None = None
    duration_s: float = 0.0
    usage: Usage = field(default_factory=Usage)
    cost_usd: float | None = None

    @property
    def ok(self) -> bool:
        """True when the member answered."""
        return self.error is None and self.content is not None

    @property
    def label(self) -> str:
        """The member's anonymous label."""
        return self.member.label

    def note(self) -> str:
        """The answer, or a labelled note of the failure, for a combiner to read."""
        if self.ok:
            return self.content or ""
        return f"[{self.label} gave no answer: {self.error}]"


@dataclass
class ConsortiumOutcome:
    """The result of a strategy.

    Attributes:
        answer: The final answer text.
        strategy: The strategy's name.
        iterations: Iterations, layers or rounds run.
        confidence: The arbiter's confidence in the answer, when it gave one.
        stop_reason: Why it stopped (``"confidence reached"``, ``"max iterations"``,
            ``"agreement"``, ``"budget: ..."``...).
        fallback_reason: Set when the answer did not come from the combiner.
        answers: Every member answer of the turn.
        details: Strategy-specific data (ranking, dissent, council opinions...).
    """

    answer: str
    strategy: str
    iterations: int = 1
    confidence: float | None = None
    stop_reason: str = "done"
    fallback_reason: str | None = None
    answers: list[MemberAnswer] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)


class BudgetExceeded(Exception):
    """Raised by :class:`ConsortiumRun` before a call the budget no longer allows."""


@dataclass
class Budget:
    """Limits on a turn's spending; None means no limit."""

    max_tokens: int | None = None
    max_usd: float | None = None
    tokens: int = 0
    usd: float = 0.0

    def add(self, usage: Usage, cost_usd: float | None) -> None:
        """Count a call."""
        self.tokens += usage.total_tokens
        self.usd += cost_usd or 0.0

    def exceeded(self) -> str | None:
        """Why no further call may be made, or None."""
        if self.max_tokens is not None and self.tokens >= self.max_tokens:
            return f"budget: {self.tokens} of {self.max_tokens} tokens used"
        if self.max_usd is not None and self.usd >= self.max_usd:
            return f"budget: ${self.usd:.4f} of ${self.max_usd:.4f} spent"
        return None


def fallback_answer(
    answers: Sequence[MemberAnswer], ranking: Sequence[str] | None = None
) -> tuple[str, str]:
    """The best answer without a combiner: the top-ranked member's, else the longest.

    Returns:
        The answer and how it was chosen.

    Raises:
        ValueError: no member answered at all.
    """
    answered = [a for a in answers if a.ok]
    if not answered:
        raise ValueError("no member answered")
    if ranking:
        by_label = {a.label: a for a in reversed(answered)}
        for label in ranking:
            if label in by_label:
                return by_label[label].content or "", f"the top-ranked answer ({label})"
    longest = max(answered, key=lambda a: len(a.content or ""))
    return longest.content or "", f"the longest answer ({longest.label})"


class ConsortiumRun:
    """Calls, events and budget of one consortium turn.

    Args:
        engine: The engine (for ids, session and bus).
        members: The members.
        history: Earlier turns (user and assistant messages).
        max_concurrency: Members asked at the same time.
        member_timeout: Seconds each member call may take.
        member_retries: Extra tries for a member call that failed or timed out.
        budget: Spending limits of the turn.
        seed: Seed of the anonymising shuffle (None: random).
        arbiter: The combining model (arbiter, aggregator, final writer), if any.
        backup_arbiter: Used when ``arbiter`` fails.
    """

    def __init__(
        self,
        engine: Engine,
        members: Sequence[Member],
        *,
        history: Messages | None = None,
        max_concurrency: int = 8,
        member_timeout: float | None = 120.0,
        member_retries: int = 1,
        budget: Budget | None = None,
        seed: int | None = None,
        arbiter: Model | None = None,
        backup_arbiter: Model | None = None,
    ) -> None:
        self.engine = engine
        self.arbiter = arbiter
        self.backup_arbiter = backup_arbiter
        self.members = list(members)
        self.history = list(history or [])
        self.member_timeout = member_timeout
        self.member_retries = max(0, member_retries)
        self.budget = budget or Budget()
        self.usage = Usage()
        self.cost_usd: float | None = None
        self.answers: list[MemberAnswer] = []
        self.random = random.Random(seed)
        self._limit = asyncio.Semaphore(max(1, max_concurrency))

    # -- accounting -----------------------------------------------------------

    def count(self, response: LLMResponse) -> None:
        """Count a combiner's or member's answer in the run, the budget and the engine."""
        self.usage = self.usage + response.usage
        if response.cost_usd is not None:
            self.cost_usd = (self.cost_usd or 0.0) + response.cost_usd
        self.budget.add(response.usage, response.cost_usd)
        self.engine.usage.add(response)

    def check_budget(self) -> None:
        """Raise :class:`BudgetExceeded` if no further call is allowed."""
        reason = self.budget.exceeded()
        if reason is not None:
            raise BudgetExceeded(reason)

    # -- members ----------------------------------------------------------------

    async def ask_members(
        self,
        messages: Messages | Callable[[Member], Messages],
        *,
        stage: str,
        members: Sequence[Member] | None = None,
    ) -> list[MemberAnswer]:
        """Ask members concurrently; answers come back in member order.

        A member that fails (after its retries) or times out gives an answer
        with ``error`` set; the others go on.

        Args:
            messages: The messages, or a function giving each member its own.
            stage: Name of this step, for events (``"answer"``, ``"layer 2"``).
            members: Who to ask (default: everyone).

        Raises:
            BudgetExceeded: the budget was used up before asking.
        """
        self.check_budget()
        chosen = list(members) if members is not None else self.members

        async def one(member: Member) -> MemberAnswer:
            own = messages(member) if callable(messages) else messages
            async with self._limit:
                return await self._ask_member(member, own, stage)

        answers = list(await asyncio.gather(*(one(m) for m in chosen)))
        self.answers.extend(answers)
        return answers

    async def _ask_member(self, member: Member, messages: Messages, stage: str) -> MemberAnswer:
        await self.member_event(member, stage, "started")
        started = time.monotonic()
        error = "no attempt made"
        for _ in range(self.member_retries + 1):
            try:
                async with asyncio.timeout(self.member_timeout):
                    response = await self.engine.instrumented(member.model).generate(messages)
            except TimeoutError:
                error = f"no answer within {self.member_timeout:g} s"
                continue
            except Exception as exc:  # a member's failure is a note, not the end
                error = f"{type(exc).__name__}: {exc}"
                continue
            self.count(response)
            answer = MemberAnswer(
                member,
                stage,
                content=response.content or "",
                duration_s=time.monotonic() - started,
                usage=response.usage,
                cost_usd=response.cost_usd,
            )
            await self.member_event(member, stage, "answered", answer)
            return answer
        answer = MemberAnswer(member, stage, error=error, duration_s=time.monotonic() - started)
        await self.member_event(member, stage, "failed", answer)
        return answer

    def _wants(self, event_type: type[Event]) -> bool:
        # Events nobody would receive are not built.
        return self.engine.bus.has_handlers(event_type, self.engine.session_id)

    async def member_event(
        self, member: Member, stage: str, state: str, answer: MemberAnswer | None = None
    ) -> None:
        """Publish a :class:`ConsortiumMemberEvent` (``answer`` for its content and usage)."""
        if not self._wants(ConsortiumMemberEvent):
            return
        await self.engine.bus.publish(
            ConsortiumMemberEvent(
                engine_id=self.engine.engine_id,
                session_id=self.engine.session_id,
                label=member.label,
                model=member.model_string,
                stage=stage,
                state=state,
                content=answer.content if answer else None,
                error=answer.error if answer else None,
                duration_s=answer.duration_s if answer else 0.0,
                usage=vars(answer.usage).copy() if answer else {},
                cost_usd=answer.cost_usd if answer else None,
            )
        )

    # -- combiners ----------------------------------------------------------------

    async def ask(
        self,
        model: Model,
        messages: Messages,
        *,
        response_model: type[Any] | None = None,
        **kwargs: Any,
    ) -> Any:
        """One call for a combiner (arbiter, aggregator, reviewer), counted in the budget.

        Returns the :class:`LLMResponse`, or with ``response_model`` the
        validated value. Errors are raised (the strategy decides on fallbacks).

        Raises:
            BudgetExceeded: the budget was used up before the call.
        """
        self.check_budget()
        if response_model is not None:
            caller = self.engine.instrumented(model)
            value, response = await caller.generate_structured(messages, response_model, **kwargs)
            self.count(response)
            return value
        response = await self.engine.instrumented(model).generate(messages, **kwargs)
        self.count(response)
        return response

    def anonymised(self, answers: Sequence[MemberAnswer]) -> list[tuple[str, MemberAnswer]]:
        """Answers in a shuffled order under neutral names (``"Response 1"``...).

        Combiners see neither model names nor a stable order, which reduces
        judge bias.
        """
        shuffled = list(answers)
        self.random.shuffle(shuffled)
        return [(f"Response {n}", answer) for n, answer in enumerate(shuffled, start=1)]

    # -- events -----------------------------------------------------------------

    async def status(self, text: str) -> None:
        """Publish the engine's status."""
        await self.engine.publish_status(text)

    async def iteration(
        self,
        strategy: str,
        iteration: int,
        summary: str,
        confidence: float | None = None,
        **details: Any,
    ) -> None:
        """Publish a :class:`ConsortiumIterationEvent`."""
        if not self._wants(ConsortiumIterationEvent):
            return
        await self.engine.bus.publish(
            ConsortiumIterationEvent(
                engine_id=self.engine.engine_id,
                session_id=self.engine.session_id,
                strategy=strategy,
                iteration=iteration,
                summary=summary,
                confidence=confidence,
                details=details,
            )
        )

    async def combine_event(
        self,
        state: str,
        model: Model | None = None,
        reason: str | None = None,
        duration_s: float = 0.0,
    ) -> None:
        """Publish a :class:`ConsortiumCombineEvent`."""
        if not self._wants(ConsortiumCombineEvent):
            return
        await self.engine.bus.publish(
            ConsortiumCombineEvent(
                engine_id=self.engine.engine_id,
                session_id=self.engine.session_id,
                state=state,
                model=model.model_string if model else None,
                reason=reason,
                duration_s=duration_s,
            )
        )
