"""The arbiter strategy (after llm-consortium): members answer, an arbiter judges and combines.

Each round, every member answers; the arbiter sees the answers in a shuffled
order under neutral names (``"Response 1"``...; failed members as notes) and
returns an :class:`ArbiterVerdict` - synthesis, confidence, analysis, dissent,
whether another round would help, what to refine, and a ranking. Rounds go on,
with the members shown the previous synthesis and the refinement areas, until
the confidence reaches the threshold and the arbiter asks for no more (between
``min_iterations`` and ``max_iterations`` rounds).

The verdict comes from the provider's structured output; if that fails, the
arbiter is asked for a tagged text answer (:func:`parse_arbiter_text`). An
answer that cannot be read is its own state: it is sent back once with a
request for the format (a repair), never read as confidence 0. When the
arbiter fails entirely: the backup arbiter, then the top-ranked member (when a
ranking could be read), then the longest answer.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from llmgine.engines.consortium.run import (
    BudgetExceeded,
    ConsortiumOutcome,
    ConsortiumRun,
    MemberAnswer,
    fallback_answer,
)
from llmgine.engines.consortium.strategies.arbiter_format import (
    FORMAT_INSTRUCTIONS,
    ArbiterVerdict,
    Unreadable,
    arbiter_messages,
    member_messages,
    parse_arbiter_text,
    parse_confidence,
)
from llmgine.engines.consortium.strategies.base import Strategy
from llmgine.errors import (
    ConfigurationError,
    EngineError,
    ProviderBadRequestError,
    ProviderError,
    ProviderResponseError,
    StructuredOutputError,
)
from llmgine.models.interface import Model

__all__ = [
    "ArbiterStrategy",
    "ArbiterVerdict",
    "Unreadable",
    "parse_arbiter_text",
    "parse_confidence",
]

Messages = list[dict[str, Any]]

REPAIR_PROMPT = (
    "Your answer could not be read: {error}. Give your judgement again, in exactly this "
    "format:\n\n" + FORMAT_INSTRUCTIONS
)


@dataclass
class _Progress:
    """What a turn has produced so far (for the outcome, fallbacks and the budget stop)."""

    round: int = 0
    verdict: ArbiterVerdict | None = None
    verdict_round: int = 0
    ranking: list[str] = field(default_factory=list)
    answers: list[MemberAnswer] = field(default_factory=list)
    confidences: list[float] = field(default_factory=list)
    arbiter: str | None = None
    unreadable: int = 0
    repaired: int = 0


class ArbiterStrategy(Strategy):
    """Members answer; an arbiter synthesises, rates its confidence and may ask for more.

    Args:
        confidence_threshold: Confidence (0..1) at which the rounds stop.
        min_iterations: Rounds run even when the arbiter is confident early.
        max_iterations: Most rounds.
        structured: Ask for provider structured output first (False: tagged text only).
        structured_retries: Re-asks when a structured answer does not validate.
    """

    name = "arbiter"

    def __init__(
        self,
        confidence_threshold: float = 0.8,
        min_iterations: int = 1,
        max_iterations: int = 3,
        *,
        structured: bool = True,
        structured_retries: int = 1,
    ) -> None:
        if not 0.0 <= confidence_threshold <= 1.0:
            raise ValueError(f"confidence_threshold must be in 0..1, got {confidence_threshold}")
        if min_iterations < 1 or max_iterations < min_iterations:
            raise ValueError(
                "need 1 <= min_iterations <= max_iterations, got "
                f"min_iterations={min_iterations}, max_iterations={max_iterations}"
            )
        self.confidence_threshold = confidence_threshold
        self.min_iterations = min_iterations
        self.max_iterations = max_iterations
        self.structured = structured
        self.structured_retries = max(0, structured_retries)

    async def run(self, run: ConsortiumRun, prompt: str) -> ConsortiumOutcome:
        """Run rounds until the arbiter is confident (or a limit, failure or budget stops it)."""
        progress = _Progress()
        try:
            return await self._rounds(run, prompt, progress)
        except BudgetExceeded as exc:
            return await self._budget_stop(run, progress, str(exc))

    async def _rounds(
        self, run: ConsortiumRun, prompt: str, progress: _Progress
    ) -> ConsortiumOutcome:
        for round_ in range(1, self.max_iterations + 1):
            stage = "answer" if round_ == 1 else f"refinement {round_ - 1}"
            await run.status(f"round {round_}: asking {len(run.members)} members")
            answers = await run.ask_members(
                member_messages(run.history, prompt, progress.verdict), stage=stage
            )
            progress.round = round_
            if not any(answer.ok for answer in answers):
                if progress.verdict is None:
                    raise EngineError("no member answered")
                return self._outcome(
                    run, progress, progress.verdict, f"no member answered in round {round_}"
                )
            progress.answers = answers
            await run.status(f"round {round_}: the arbiter is judging")
            verdict, ranking, failure = await self._judge(run, prompt, answers, progress)
            if verdict is None:
                return await self._fallback(run, progress, failure, ranking)
            progress.verdict, progress.verdict_round, progress.ranking = verdict, round_, ranking
            progress.confidences.append(verdict.confidence)
            await run.iteration(
                self.name,
                round_,
                _summary(verdict),
                verdict.confidence,
                needs_iteration=verdict.needs_iteration,
                refinement_areas=list(verdict.refinement_areas),
                ranking=ranking,
                answered=sum(answer.ok for answer in answers),
                failed=sum(not answer.ok for answer in answers),
            )
            confident = verdict.confidence >= self.confidence_threshold
            if round_ >= self.min_iterations and confident and not verdict.needs_iteration:
                return self._outcome(run, progress, verdict, "confidence reached")
        assert progress.verdict is not None
        return self._outcome(run, progress, progress.verdict, "max iterations")

    # -- judging --------------------------------------------------------------------

    async def _judge(
        self,
        run: ConsortiumRun,
        prompt: str,
        answers: list[MemberAnswer],
        progress: _Progress,
    ) -> tuple[ArbiterVerdict | None, list[str], str]:
        """The verdict (ranking as member labels), or None, a salvaged ranking and why."""
        named = run.anonymised(answers)
        labels = {name: answer.label for name, answer in named}
        messages = arbiter_messages(
            run.history, prompt, named, progress.round, progress.verdict, progress.verdict_round
        )
        failures: list[str] = []
        salvaged: list[str] = []
        judges = [("arbiter", run.arbiter)]
        if run.backup_arbiter is not None and run.backup_arbiter is not run.arbiter:
            judges.append(("backup arbiter", run.backup_arbiter))
        for role, model in judges:
            if model is None:
                continue
            await run.combine_event("started", model)
            started = time.monotonic()
            verdict, error, ranking = await self._consult(run, model, messages, progress)
            took = time.monotonic() - started
            if verdict is not None:
                await run.combine_event("finished", model, duration_s=took)
                progress.arbiter = model.model_string
                return verdict, [labels[n] for n in verdict.ranking if n in labels], ""
            await run.combine_event("failed", model, reason=error, duration_s=took)
            failures.append(f"the {role} {model.model_string} failed: {error}")
            salvaged = salvaged or [labels[n] for n in ranking if n in labels]
        return None, salvaged, "; ".join(failures) or "no arbiter was configured"

    async def _consult(
        self, run: ConsortiumRun, model: Model, messages: Messages, progress: _Progress
    ) -> tuple[ArbiterVerdict | None, str, list[str]]:
        """Ask one arbiter: structured, else tagged text with one repair.

        Returns the verdict, or None with the error and any ranking that could be read.
        """
        if self.structured:
            try:
                verdict = await run.ask(
                    model,
                    messages,
                    response_model=ArbiterVerdict,
                    max_validation_retries=self.structured_retries,
                )
                return verdict, "", []
            except BudgetExceeded:
                raise
            except Exception as exc:
                if _unreachable(exc):  # text would fail the same way: do not call again
                    return None, _describe(exc), []
        messages = [
            messages[0],
            {"role": "user", "content": f"{messages[1]['content']}\n\n{FORMAT_INSTRUCTIONS}"},
        ]
        try:
            response = await run.ask(model, messages)
        except BudgetExceeded:
            raise
        except Exception as exc:
            return None, _describe(exc), []
        parsed = parse_arbiter_text(response.content)
        if isinstance(parsed, ArbiterVerdict):
            return parsed, "", []
        progress.unreadable += 1
        await run.combine_event("unparseable", model, reason=parsed.error)
        repair = [
            *messages,
            {"role": "assistant", "content": response.content or ""},
            {"role": "user", "content": REPAIR_PROMPT.format(error=parsed.error)},
        ]
        try:
            response = await run.ask(model, repair)
        except BudgetExceeded:
            raise
        except Exception as exc:
            return (
                None,
                f"unreadable answer ({parsed.error}); the repair failed: {_describe(exc)}",
                (parsed.ranking),
            )
        again = parse_arbiter_text(response.content)
        if isinstance(again, ArbiterVerdict):
            progress.repaired += 1
            return again, "", []
        return (
            None,
            f"unreadable answer, also after a repair ({again.error})",
            again.ranking or parsed.ranking,
        )

    # -- outcomes ---------------------------------------------------------------------

    def _details(self, progress: _Progress, verdict: ArbiterVerdict | None) -> dict[str, Any]:
        details: dict[str, Any] = {
            "arbiter": progress.arbiter,
            "ranking": list(progress.ranking),
            "confidences": list(progress.confidences),
            "unreadable_answers": progress.unreadable,
            "repaired_answers": progress.repaired,
        }
        if verdict is not None:
            details.update(
                analysis=verdict.analysis,
                dissent=verdict.dissent,
                needs_iteration=verdict.needs_iteration,
                refinement_areas=list(verdict.refinement_areas),
            )
        return details

    def _outcome(
        self,
        run: ConsortiumRun,
        progress: _Progress,
        verdict: ArbiterVerdict,
        stop_reason: str,
        fallback_reason: str | None = None,
    ) -> ConsortiumOutcome:
        return ConsortiumOutcome(
            answer=verdict.synthesis,
            strategy=self.name,
            iterations=progress.round,
            confidence=verdict.confidence,
            stop_reason=stop_reason,
            fallback_reason=fallback_reason,
            answers=list(run.answers),
            details=self._details(progress, verdict),
        )

    async def _fallback(
        self, run: ConsortiumRun, progress: _Progress, failure: str, ranking: list[str]
    ) -> ConsortiumOutcome:
        if progress.verdict is not None:
            reason = f"{failure}; kept the synthesis of round {progress.verdict_round}"
            await run.combine_event("fallback", reason=reason)
            return self._outcome(run, progress, progress.verdict, "arbiter failed", reason)
        answer, how = fallback_answer(progress.answers, ranking or None)
        reason = f"{failure}; used {how}"
        await run.combine_event("fallback", reason=reason)
        progress.ranking = ranking
        return ConsortiumOutcome(
            answer=answer,
            strategy=self.name,
            iterations=progress.round,
            stop_reason="arbiter failed",
            fallback_reason=reason,
            answers=list(run.answers),
            details=self._details(progress, None),
        )

    async def _budget_stop(
        self, run: ConsortiumRun, progress: _Progress, reason: str
    ) -> ConsortiumOutcome:
        if progress.verdict is not None:
            return self._outcome(run, progress, progress.verdict, reason)
        if not any(answer.ok for answer in progress.answers):
            raise BudgetExceeded(reason)  # nothing to return: the engine reports it
        answer, how = fallback_answer(progress.answers, progress.ranking or None)
        fallback_reason = f"{reason}; used {how}"
        await run.combine_event("fallback", reason=fallback_reason)
        return ConsortiumOutcome(
            answer=answer,
            strategy=self.name,
            iterations=progress.round,
            stop_reason=reason,
            fallback_reason=fallback_reason,
            answers=list(run.answers),
            details=self._details(progress, None),
        )


def _summary(verdict: ArbiterVerdict) -> str:
    text = f"confidence {verdict.confidence:.0%}"
    if verdict.needs_iteration:
        text += ", asks for another round"
    if verdict.refinement_areas:
        text += ": " + "; ".join(verdict.refinement_areas)
    return text


def _describe(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _unreachable(exc: Exception) -> bool:
    """True for failures a plain-text call would meet too (key, network, server)."""
    if isinstance(exc, ConfigurationError):
        return True
    readable = (StructuredOutputError, ProviderBadRequestError, ProviderResponseError)
    return isinstance(exc, ProviderError) and not isinstance(exc, readable)
