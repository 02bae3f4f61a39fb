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
from dataclasses import dataclass, field
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
from llmgine.engines.consortium.strategies.moa_view import (
    advisory_view,
    truncate_middle,
)
from llmgine.engines.messages import FINISHED
from llmgine.engines.tool_chat_engine import ToolChatEngine
from llmgine.errors import EngineError
from llmgine.models.instrumented import InstrumentedModel
from llmgine.models.interface import Model
from llmgine.models.registry import get_model
from llmgine.models.request import LLMRequest
from llmgine.models.response import LLMResponse, Usage, content_text

__all__ = ["MoaStrategy", "advisory_view", "truncate_middle"]

Messages = list[dict[str, Any]]

REFERENCES_INSTRUCTIONS = (
    "Other assistants answered this request; their answers are below as references. They "
    "may be incomplete, wrong or biased: evaluate them critically, keep what is right, fix "
    "what is wrong, and give your own complete, best answer. Do not mention the references."
)

ADVISOR_SYSTEM_PROMPT = (
    "You are an advisor in a mixture-of-agents process. You do not act: you cannot call "
    "tools, run commands or open files and URLs, and you should not try to or apologise for "
    "it. A separate aggregator model holds the tools and will act. Give your best analysis "
    "and answer: the approach, concrete next steps and how to use tools, pitfalls, and "
    "anything that may have been missed. No preamble, no disclaimers about access."
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


def _references(
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
class _Progress:
    """What a turn has produced so far."""

    layer: int = 0
    layer_used: int = 0
    answers: list[MemberAnswer] = field(default_factory=list)
    aggregator: str | None = None
    advice_rounds: int = 0
    tool_calls: int = 0
    notes: list[str] = field(default_factory=list)


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

    async def run(self, run: ConsortiumRun, prompt: str) -> ConsortiumOutcome:
        """Run the layers, then aggregate (falling back when the aggregators fail)."""
        progress = _Progress()
        try:
            await self._layers(run, prompt, progress)
            return await self._aggregate(run, prompt, progress)
        except BudgetExceeded as exc:
            if not any(answer.ok for answer in progress.answers):
                raise
            return await self._fallback(run, progress, str(exc), str(exc))

    # -- proposers ------------------------------------------------------------------

    async def _layers(self, run: ConsortiumRun, prompt: str, progress: _Progress) -> None:
        for layer in range(1, self.layers + 1):
            progress.layer = layer
            await run.status(f"layer {layer}: asking {len(run.members)} proposers")
            messages = self._proposer_messages(run, prompt, progress.answers)
            answers = await run.ask_members(messages, stage=f"layer {layer}")
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
            refs = _references(run, previous, self.max_context_chars)
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
        text = f"{prompt}\n\n---\nThe assistants' answers:\n\n{_references(run, answers)}"
        return [
            {"role": "system", "content": system},
            *(dict(message) for message in run.history),
            {"role": "user", "content": text},
        ]

    async def _aggregate(
        self, run: ConsortiumRun, prompt: str, progress: _Progress
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
        progress: _Progress,
    ) -> str:
        if not self.aggregator_tools:
            response = await run.ask(model, messages)
            text = response.content or ""
        else:
            advised = _AdvisedModel(run, self, progress, prompt, model)
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
        self, run: ConsortiumRun, progress: _Progress, reason: str, stop_reason: str
    ) -> ConsortiumOutcome:
        answer, how = fallback_answer(progress.answers)
        await run.combine_event("fallback", reason=f"{reason}; used {how}")
        return self._outcome(run, progress, answer, stop_reason, f"{reason}; used {how}")

    def _outcome(
        self,
        run: ConsortiumRun,
        progress: _Progress,
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


class _AdvisedModel(Model):
    """The aggregator's model inside a consortium run, for its function-calling loop.

    Each call is counted in the run (usage, cost, budget), and new tool
    results may first be shown to the proposers, whose advice is added to the
    aggregator's request. The loop's engine instruments it (retries, events).
    """

    def __init__(
        self,
        run: ConsortiumRun,
        strategy: MoaStrategy,
        progress: _Progress,
        prompt: str,
        model: Model,
    ) -> None:
        super().__init__(retry=model.retry, timeout=model.timeout)
        self.inner = model.wrapped if isinstance(model, InstrumentedModel) else model
        self.provider, self.name = self.inner.provider, self.inner.name
        self._run, self._strategy, self._progress = run, strategy, progress
        self._prompt = prompt  # the user's request, without the references
        self.budget_error: BudgetExceeded | None = None
        self.tool_results = 0
        self._advice: str | None = None

    def price(self, usage: Usage) -> float | None:
        """The aggregator model's price."""
        return self.inner.price(usage)

    async def request(self, request: LLMRequest) -> LLMResponse:
        """Ask the aggregator, with the proposers' advice on new tool results."""
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
        """``messages``, with the proposers' advice on new tool results added to the prompt."""
        strategy, progress = self._strategy, self._progress
        results = sum(message.get("role") == "tool" for message in messages)
        users = [n for n, message in enumerate(messages) if message.get("role") == "user"]
        last_user = users[-1] if users else -1
        if results > self.tool_results and progress.advice_rounds < strategy.tool_advice_rounds:
            progress.advice_rounds += 1
            await self._run.status("the proposers are advising on the tool results")
            view = [
                {"role": "system", "content": ADVISOR_SYSTEM_PROMPT},
                *advisory_view(self._run.history, strategy.max_context_chars),
                {"role": "user", "content": self._prompt},
                *advisory_view(messages[last_user + 1 :], strategy.max_context_chars),
                {"role": "user", "content": ADVICE_REQUEST},
            ]
            answers = await self._run.ask_members(view, stage=f"advice {progress.advice_rounds}")
            if any(answer.ok for answer in answers):
                self._advice = _references(self._run, answers)
        self.tool_results = max(self.tool_results, results)
        if self._advice is None or last_user < 0:
            return messages
        prompt = messages[last_user]
        note = f"\n\nAdvice of the assistants on the tool results so far:\n\n{self._advice}"
        messages[last_user] = {**prompt, "content": content_text(prompt.get("content")) + note}
        return messages
