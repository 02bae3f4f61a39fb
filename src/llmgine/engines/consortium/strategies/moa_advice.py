"""Mixture of agents: the references asked once per state, their answers as blocks, the advisor.

:func:`ask_references` asks the proposers for a view of the state, unless
the :class:`~llmgine.engines.consortium.strategies.moa_cache.ReferenceCache`
holds their answers for that very view (then a
:class:`~llmgine.engines.consortium.events.MoaReferenceCacheHitEvent` says so).
:class:`AdvisedModel` is the acting aggregator's model: before a call that
follows new tool results, the proposers advise on them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from llmgine.engines.consortium.events import MoaReferenceCacheHitEvent
from llmgine.engines.consortium.run import BudgetExceeded, ConsortiumRun, MemberAnswer
from llmgine.engines.consortium.strategies.moa_cache import ReferenceCache, view_hash
from llmgine.engines.consortium.strategies.moa_view import advisory_view, truncate_middle
from llmgine.models.instrumented import InstrumentedModel
from llmgine.models.interface import Model
from llmgine.models.request import LLMRequest
from llmgine.models.response import LLMResponse, Usage, content_text

__all__ = [
    "ADVICE_REQUEST",
    "ADVISOR_SYSTEM_PROMPT",
    "AdvisedModel",
    "MoaProgress",
    "ask_references",
    "references_block",
    "reused",
]

Messages = list[dict[str, Any]]

ADVISOR_SYSTEM_PROMPT = (
    "You are an advisor in a mixture-of-agents process. You do not act: you cannot call "
    "tools, run commands or open files and URLs, and you should not try to or apologise for "
    "it. A separate aggregator model holds the tools and will act. Give your best analysis "
    "and answer: the approach, concrete next steps and how to use tools, pitfalls, and "
    "anything that may have been missed. No preamble, no disclaimers about access."
)

ADVICE_REQUEST = (
    "[The conversation above is the current state of the task: the acting model called "
    "tools and got the results shown. Judge the state: what the results mean, whether the "
    "task is done, what should happen next and what risks or mistakes you see.]"
)


def _scrub(text: str, model: Model) -> str:
    """``text`` without the model's name, so readers cannot tell who failed."""
    for name in sorted({model.model_string, model.name, model.provider}, key=len, reverse=True):
        if name and len(name) >= 3:
            text = text.replace(name, "[model]")
    return text


def references_block(
    run: ConsortiumRun, answers: Sequence[MemberAnswer], limit: int | None = None
) -> str:
    """The answers as shuffled ``<reference name="Response 1">`` blocks (failures as notes).

    Each answer is cut head+tail to ``limit`` characters (None: shown whole).
    """
    blocks = []
    for name, answer in run.anonymised(answers):
        if answer.ok:
            body = answer.content or ""
            body = truncate_middle(body, limit) if limit else body
            blocks.append(f'<reference name="{name}">\n{body}\n</reference>')
        else:
            error = _scrub(answer.error or "unknown error", answer.member.model)
            blocks.append(
                f'<reference name="{name}" status="failed">[no answer: {error}]</reference>'
            )
    return "<references>\n" + "\n".join(blocks) + "\n</references>"


@dataclass
class MoaProgress:
    """What a mixture-of-agents turn has produced so far."""

    layer: int = 0
    layer_used: int = 0
    answers: list[MemberAnswer] = field(default_factory=list)
    aggregator: str | None = None
    advice_rounds: int = 0
    tool_calls: int = 0
    cache_hits: int = 0
    notes: list[str] = field(default_factory=list)


async def ask_references(
    run: ConsortiumRun,
    cache: ReferenceCache,
    progress: MoaProgress,
    messages: Messages,
    *,
    stage: str,
    slot: str,
) -> tuple[list[MemberAnswer], bool]:
    """The proposers' answers to ``messages``: from the cache when the view is unchanged.

    Returns:
        The answers, and whether they came from the cache.
    """
    key = view_hash(messages, run.members)
    cached = cache.get(slot, key)
    if cached is None:
        answers = await run.ask_members(messages, stage=stage)
        cache.put(slot, key, answers)
        return answers, False
    await reused(run, progress, slot, key, cached.answers)
    return list(cached.answers), True


async def reused(
    run: ConsortiumRun,
    progress: MoaProgress,
    slot: str,
    key: str,
    answers: Sequence[MemberAnswer],
) -> None:
    """Count a cache hit, add its answers to the turn's, publish the hit event."""
    progress.cache_hits += 1
    held = {id(answer) for answer in run.answers}
    # Answers of this turn too (their calls are not counted again).
    run.answers.extend(answer for answer in answers if id(answer) not in held)
    engine = run.engine
    if engine.bus.has_handlers(MoaReferenceCacheHitEvent, engine.session_id):
        await engine.bus.publish(
            MoaReferenceCacheHitEvent(
                engine_id=engine.engine_id,
                session_id=engine.session_id,
                stage=slot,
                view_hash=key,
                references=len(answers),
                members=[answer.label for answer in answers],
            )
        )


class AdvisedModel(Model):
    """The aggregator's model inside a consortium run, for its function-calling loop.

    Each call is counted in the run (usage, cost, budget). When the calls
    follow tool results, the proposers advise on the state (the advisory view
    with the results, cut head+tail) and their advice is added to the
    aggregator's request. The proposers are asked again only when that view
    changed (a new tool result), at most ``advice_rounds`` times a turn; a
    call on an unchanged view (a retry, the backup aggregator) reuses the
    advice. The loop's engine instruments it (retries, events).
    """

    def __init__(
        self,
        run: ConsortiumRun,
        progress: MoaProgress,
        prompt: str,
        model: Model,
        *,
        cache: ReferenceCache,
        advice_rounds: int,
        max_context_chars: int,
    ) -> None:
        super().__init__(retry=model.retry, timeout=model.timeout)
        self.inner = model.wrapped if isinstance(model, InstrumentedModel) else model
        self.provider, self.name = self.inner.provider, self.inner.name
        self._run, self._progress, self._cache = run, progress, cache
        self._advice_rounds, self._max_chars = advice_rounds, max_context_chars
        self._prompt = prompt  # the user's request, without the references
        self.budget_error: BudgetExceeded | None = None
        self.tool_results = 0
        self._advice: str | None = None

    def price(self, usage: Usage) -> float | None:
        """The aggregator model's price."""
        return self.inner.price(usage)

    async def request(self, request: LLMRequest) -> LLMResponse:
        """Ask the aggregator, with the proposers' advice on the tool results."""
        try:
            self._run.check_budget()
        except BudgetExceeded as exc:  # the loop would make it a failed result: keep it
            self.budget_error = exc
            raise
        advised = request.copy()
        advised.messages = await self._advised(advised.messages)
        response = await self.inner.request(advised)
        if response.cost_usd is None:
            response.cost_usd = self.price(response.usage)
        self._run.count(response)
        return response

    async def _advised(self, messages: Messages) -> Messages:
        """``messages``, with the proposers' advice on the tool results added to the prompt."""
        progress, run = self._progress, self._run
        self.tool_results = sum(message.get("role") == "tool" for message in messages)
        users = [n for n, message in enumerate(messages) if message.get("role") == "user"]
        last_user = users[-1] if users else -1
        if self.tool_results and last_user >= 0:
            view = [
                {"role": "system", "content": ADVISOR_SYSTEM_PROMPT},
                *advisory_view(run.history, self._max_chars),
                {"role": "user", "content": self._prompt},
                *advisory_view(messages[last_user + 1 :], self._max_chars),
                {"role": "user", "content": ADVICE_REQUEST},
            ]
            key = view_hash(view, run.members)
            cached = self._cache.get("advice", key)
            if cached is not None and cached.rendered is not None:
                await reused(run, progress, "advice", key, cached.answers)
                self._advice = cached.rendered
            elif progress.advice_rounds < self._advice_rounds:
                progress.advice_rounds += 1
                await run.status("the proposers are advising on the tool results")
                answers = await run.ask_members(view, stage=f"advice {progress.advice_rounds}")
                if any(answer.ok for answer in answers):
                    self._advice = references_block(run, answers)
                    self._cache.put("advice", key, answers, self._advice)
        if self._advice is None or last_user < 0:
            return messages
        prompt = messages[last_user]
        note = f"\n\nAdvice of the assistants on the tool results so far:\n\n{self._advice}"
        messages[last_user] = {**prompt, "content": content_text(prompt.get("content")) + note}
        return messages
