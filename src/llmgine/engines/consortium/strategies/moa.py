"""The mixture-of-agents strategy: layers of proposers, then an aggregator that acts.

Layer 1's proposers (the members) answer; each further layer sees the previous
layer's answers as anonymous references and refines them. The aggregator
(``aggregator``, else the arbiter; then the backup arbiter; then the best
proposer answer) synthesises the last layer. Given tools, the aggregator acts
through the function-calling loop while the proposers only advise (never with
tools), also on new tool results, which they see cut head+tail
(:func:`truncate_middle`, :func:`advisory_view`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

from llmgine.engines.consortium.run import (
    BudgetExceeded,
    ConsortiumOutcome,
    ConsortiumRun,
    MemberAnswer,
    fallback_answer,
)
from llmgine.engines.consortium.strategies.base import Strategy
from llmgine.engines.consortium.strategies.moa_advice import (
    ADVISOR_SYSTEM_PROMPT,
    AdvisedModel,
    MoaProgress,
    ask_references,
    references_block,
)
from llmgine.engines.consortium.strategies.moa_cache import ReferenceCache
from llmgine.engines.consortium.strategies.moa_view import (
    advisory_view,
    truncate_middle,
)
from llmgine.engines.messages import FINISHED
from llmgine.engines.tool_chat_engine import ToolChatEngine
from llmgine.errors import EngineError
from llmgine.models.interface import Model
from llmgine.models.registry import get_model

__all__ = ["MoaStrategy", "advisory_view", "truncate_middle"]

Messages = list[dict[str, Any]]

REFERENCES_INSTRUCTIONS = (
    "Other assistants answered this request; their answers are below as references. They "
    "may be incomplete, wrong or biased: evaluate them critically, keep what is right, fix "
    "what is wrong, and give your own complete, best answer. Do not mention the references."
)

AGGREGATOR_SYSTEM_PROMPT = (
    "You are the aggregator of a mixture-of-agents process: several assistants answered the "
    "latest request, and their answers are given to you as references. Synthesise them into "
    "one high-quality answer for the user. Evaluate them critically - some may be wrong or "
    "biased - rather than copying them, and do not mention that there were several answers."
)

TOOLS_NOTE = (
    " You can call tools (the assistants could not): use them to check facts or to act when "
    "that helps, then give the final answer."
)


class MoaStrategy(Strategy):
    """Layers of proposers refine each other's answers; an aggregator synthesises (and acts).

    Args:
        layers: Proposer layers (1: the members answer once, then the aggregator).
        aggregator: The synthesising model or ``"provider:model"`` (default: the
            run's arbiter). The run's backup arbiter replaces it when it fails.
        aggregator_tools: Tools (functions, modules...) the aggregator may call
            through the function-calling loop; proposers never get them.
        max_context_chars: Most characters of each reference answer and tool
            result shown to proposers (cut head+tail); the aggregator sees them whole.
        tool_advice_rounds: Times the proposers are asked again, on new tool
            results, while the aggregator acts (0: never).
        max_tool_iterations: Most aggregator calls in its function-calling loop.

    Raises:
        ValueError: a setting out of range.
    """

    name = "moa"

    def __init__(
        self,
        layers: int = 2,
        aggregator: Model | str | None = None,
        aggregator_tools: Sequence[Callable[..., Any] | Any] | None = None,
        max_context_chars: int = 4000,
        *,
        tool_advice_rounds: int = 1,
        max_tool_iterations: int = 10,
    ) -> None:
        if layers < 1:
            raise ValueError(f"layers must be at least 1, got {layers}")
        if max_context_chars < 100:
            raise ValueError(f"max_context_chars must be at least 100, got {max_context_chars}")
        if tool_advice_rounds < 0 or max_tool_iterations < 1:
            raise ValueError("need tool_advice_rounds >= 0 and max_tool_iterations >= 1")
        self.layers = layers
        self.aggregator = get_model(aggregator) if aggregator is not None else None
        self.aggregator_tools = list(aggregator_tools or [])
        self.max_context_chars = max_context_chars
        self.tool_advice_rounds = tool_advice_rounds
        self.max_tool_iterations = max_tool_iterations
        #: The proposers' last answers per stage, by a hash of the view they judged.
        self.cache = ReferenceCache()

    async def run(self, run: ConsortiumRun, prompt: str) -> ConsortiumOutcome:
        """Run the layers, then aggregate (falling back when the aggregators fail)."""
        progress = MoaProgress()
        try:
            await self._layers(run, prompt, progress)
            return await self._aggregate(run, prompt, progress)
        except BudgetExceeded as exc:
            if not any(answer.ok for answer in progress.answers):
                raise
            return await self._fallback(run, progress, str(exc), str(exc))

    # -- proposers ------------------------------------------------------------------

    async def _layers(self, run: ConsortiumRun, prompt: str, progress: MoaProgress) -> None:
        for layer in range(1, self.layers + 1):
            progress.layer = layer
            await run.status(f"layer {layer}: asking {len(run.members)} proposers")
            messages = self._proposer_messages(run, prompt, progress.answers)
            answers, _ = await ask_references(
                run, self.cache, progress, messages, stage=f"layer {layer}", slot=f"layer {layer}"
            )
            answered = sum(answer.ok for answer in answers)
            await run.iteration(
                self.name,
                layer,
                f"layer {layer}: {answered} of {len(answers)} proposers answered",
                answered=answered,
                failed=len(answers) - answered,
            )
            if answered:
                progress.answers, progress.layer_used = answers, layer
            elif layer == 1:
                raise EngineError("no proposer answered in layer 1")
            else:
                progress.notes.append(
                    f"no proposer answered in layer {layer}; used layer {progress.layer_used}"
                )
                return

    def _proposer_messages(
        self, run: ConsortiumRun, prompt: str, previous: list[MemberAnswer]
    ) -> Messages:
        system = [{"role": "system", "content": ADVISOR_SYSTEM_PROMPT}]
        text = prompt
        if previous:
            refs = references_block(run, previous, self.max_context_chars)
            text = f"{prompt}\n\n---\n{REFERENCES_INSTRUCTIONS}\n\n{refs}"
        return [
            *(system if self.aggregator_tools else []),
            *advisory_view(run.history, self.max_context_chars),
            {"role": "user", "content": text},
        ]

    # -- the aggregator ---------------------------------------------------------------

    def _aggregator_messages(
        self, run: ConsortiumRun, prompt: str, answers: list[MemberAnswer]
    ) -> Messages:
        system = AGGREGATOR_SYSTEM_PROMPT + (TOOLS_NOTE if self.aggregator_tools else "")
        text = f"{prompt}\n\n---\nThe assistants' answers:\n\n{references_block(run, answers)}"
        return [
            {"role": "system", "content": system},
            *(dict(message) for message in run.history),
            {"role": "user", "content": text},
        ]

    async def _aggregate(
        self, run: ConsortiumRun, prompt: str, progress: MoaProgress
    ) -> ConsortiumOutcome:
        messages = self._aggregator_messages(run, prompt, progress.answers)
        chain = [
            ("aggregator", self.aggregator or run.arbiter),
            ("backup aggregator", run.backup_arbiter),
        ]
        failures: list[str] = []
        tried: list[Model] = []
        for role, model in chain:
            if model is None or any(model is seen for seen in tried):
                continue
            tried.append(model)
            await run.status(f"the {role} is combining")
            await run.combine_event("started", model)
            started = time.monotonic()
            try:
                answer = await self._combine(run, model, prompt, messages, progress)
            except BudgetExceeded:
                raise
            except Exception as exc:  # the next in the chain takes over
                error = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
                took = time.monotonic() - started
                await run.combine_event("failed", model, reason=error, duration_s=took)
                failures.append(f"the {role} {model.model_string} failed: {error}")
                continue
            await run.combine_event("finished", model, duration_s=time.monotonic() - started)
            progress.aggregator = model.model_string
            why = f"{'; '.join(failures)}; the {role} answered" if failures else None
            return self._outcome(run, progress, answer, "aggregated", why)
        reason = "; ".join(failures) or "no aggregator was configured"
        return await self._fallback(run, progress, reason, "aggregator failed")

    async def _combine(
        self,
        run: ConsortiumRun,
        model: Model,
        prompt: str,
        messages: Messages,
        progress: MoaProgress,
    ) -> str:
        if not self.aggregator_tools:
            response = await run.ask(model, messages)
            text = response.content or ""
        else:
            advised = AdvisedModel(
                run,
                progress,
                prompt,
                model,
                cache=self.cache,
                advice_rounds=self.tool_advice_rounds,
                max_context_chars=self.max_context_chars,
            )
            engine = ToolChatEngine(
                session_id=run.engine.session_id,
                model=advised,
                system_prompt=messages[0]["content"],
                tools=self.aggregator_tools,
                max_iterations=self.max_tool_iterations,
                bus=run.engine.bus,
            )
            engine.on_status = partial(_aggregator_status, run)
            engine.context.chat_history.extend(messages[1:-1])
            result = await engine.execute(messages[-1]["content"])
            progress.tool_calls += advised.tool_results
            if advised.budget_error is not None:
                raise advised.budget_error
            if not result.success:
                raise EngineError(result.error or "the function-calling loop failed")
            text = str(result.result or "")
        if not text.strip():
            raise EngineError("the answer was empty")
        return text

    # -- outcomes -----------------------------------------------------------------------

    async def _fallback(
        self, run: ConsortiumRun, progress: MoaProgress, reason: str, stop_reason: str
    ) -> ConsortiumOutcome:
        answer, how = fallback_answer(progress.answers)
        await run.combine_event("fallback", reason=f"{reason}; used {how}")
        return self._outcome(run, progress, answer, stop_reason, f"{reason}; used {how}")

    def _outcome(
        self,
        run: ConsortiumRun,
        progress: MoaProgress,
        answer: str,
        stop: str,
        why: str | None = None,
    ) -> ConsortiumOutcome:
        details = {k: v for k, v in vars(progress).items() if k != "answers"}
        details.update(layers=self.layers, aggregator_tools=len(self.aggregator_tools))
        return ConsortiumOutcome(
            answer=answer,
            strategy=self.name,
            iterations=progress.layer,
            stop_reason=stop,
            fallback_reason=why,
            answers=list(run.answers),
            details=details,
        )


async def _aggregator_status(run: ConsortiumRun, status: str) -> None:
    """The acting aggregator's status, as the consortium's (its ``finished`` is not the turn's)."""
    if status != FINISHED:
        await run.status(f"aggregator: {status}")
