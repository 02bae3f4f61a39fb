"""The consortium engine: several models answer in parallel, a strategy combines them.

Strategies (``"arbiter"``, ``"moa"``, ``"council"`` or a
:class:`~llmgine.engines.consortium.strategies.base.Strategy` instance) decide
who is asked what; the engine gives them a :class:`ConsortiumRun` per turn
(concurrent members, budget, events), keeps the conversation across turns,
sums usage, and turns every failure into a result: a turn fails only when no
member answered.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable, Mapping, Sequence
from contextvars import ContextVar
from importlib import import_module
from typing import Any

from llmgine.bus.interface import Bus
from llmgine.engines.base import Engine
from llmgine.engines.consortium.events import (
    ConsortiumEngineCommand,
    ConsortiumEngineStatusEvent,
)
from llmgine.engines.consortium.members import Member, MemberSpec, parse_members
from llmgine.engines.consortium.run import (
    Budget,
    BudgetExceeded,
    ConsortiumOutcome,
    ConsortiumRun,
    MemberAnswer,
    fallback_answer,
)
from llmgine.engines.consortium.strategies.base import Strategy
from llmgine.engines.messages import EngineCommand
from llmgine.errors import ConfigurationError, EngineError
from llmgine.messages.commands import CommandResult
from llmgine.messages.serialization import to_jsonable
from llmgine.models.interface import Model
from llmgine.models.registry import get_model

__all__ = [
    "STRATEGIES",
    "ConsortiumEngine",
    "make_strategy",
    "strategy_class",
    "use_consortium_engine",
]

#: Strategy names and where they live (imported when first used).
STRATEGIES: dict[str, str] = {
    "arbiter": "llmgine.engines.consortium.strategies.arbiter:ArbiterStrategy",
    "moa": "llmgine.engines.consortium.strategies.moa:MoaStrategy",
    "council": "llmgine.engines.consortium.strategies.council:CouncilStrategy",
}

#: Ids of the consortium engines answering in the current call chain.
_RUNNING: ContextVar[tuple[str, ...]] = ContextVar("llmgine_consortium_running", default=())

#: Attributes followed when looking for an engine inside a member (wrappers, adapters).
_LINKS = (
    "engine",
    "_engine",
    "consortium",
    "wrapped",
    "__wrapped__",
    "inner",
    "model",
    "_model",
    "models",
    "members",
    "arbiter",
    "backup_arbiter",
    "aggregator",
)


def strategy_class(name: str) -> type[Strategy]:
    """The strategy class registered as ``name``.

    Raises:
        ConfigurationError: unknown name, or the strategy cannot be imported.
    """
    target = STRATEGIES.get(name)
    if target is None:
        raise ConfigurationError(
            f"unknown consortium strategy {name!r}; choose one of: {', '.join(STRATEGIES)}"
        )
    module, _, attribute = target.partition(":")
    try:
        return getattr(import_module(module), attribute)
    except (ImportError, AttributeError) as exc:
        raise ConfigurationError(f"the {name!r} strategy is not available: {exc}") from exc


def make_strategy(
    strategy: str | Strategy | type[Strategy], options: Mapping[str, Any]
) -> Strategy:
    """A strategy from a name, a class or an instance, with its options.

    Raises:
        ConfigurationError: unknown strategy, or options it does not accept.
    """
    if isinstance(strategy, Strategy):
        if options:
            raise ConfigurationError(
                f"options {', '.join(sorted(options))} were given with a strategy instance; "
                "pass them to the strategy's constructor instead"
            )
        return strategy
    if isinstance(strategy, type) and issubclass(strategy, Strategy):
        cls = strategy
    else:
        cls = strategy_class(str(strategy))
    try:
        return cls(**options)
    except (TypeError, ValueError) as exc:
        raise ConfigurationError(f"bad options for the {cls.name!r} strategy: {exc}") from exc


def _reaches(obj: Any, target: object, seen: set[int], depth: int = 0) -> bool:
    """True if ``obj`` is ``target`` or holds it (through wrapper-like attributes)."""
    if obj is target:
        return True
    if obj is None or depth > 8 or id(obj) in seen or isinstance(obj, str | bytes | int | float):
        return False
    seen.add(id(obj))
    if isinstance(obj, Member):
        return _reaches(obj.model, target, seen, depth + 1)
    if isinstance(obj, Mapping):
        items: list[Any] = [*obj.keys(), *obj.values()]
        return any(_reaches(item, target, seen, depth + 1) for item in items)
    if isinstance(obj, list | tuple | set | frozenset):
        return any(_reaches(item, target, seen, depth + 1) for item in obj)
    for name in _LINKS:
        try:
            value = getattr(obj, name, None)
        except Exception:  # a property that fails: nothing to follow
            continue
        if value is not None and _reaches(value, target, seen, depth + 1):
            return True
    return False


def _summary(answer: MemberAnswer) -> dict[str, Any]:
    return {
        "label": answer.label,
        "model": answer.member.model_string,
        "stage": answer.stage,
        "ok": answer.ok,
        "answer": answer.content,
        "error": answer.error,
        "duration_s": round(answer.duration_s, 3),
        "usage": vars(answer.usage).copy(),
        "cost_usd": answer.cost_usd,
    }


class ConsortiumEngine(Engine):
    """Several models answer each prompt in parallel; a strategy combines their answers.

    Args:
        members: Models, ``"provider:model[:count]"`` strings, or a mapping of
            model to instance count.
        arbiter: The combining model (arbiter, aggregator, final writer);
            default: the first member's model.
        strategy: ``"arbiter"``, ``"moa"``, ``"council"``, or a Strategy instance.
        backup_arbiter: Used when the arbiter fails.
        session_id: The session of its handler and events.
        engine_id: Its id.
        bus: Where it publishes (default: the message bus singleton).
        max_concurrency: Members asked at the same time.
        member_timeout: Seconds each member call may take.
        member_retries: Extra tries for a member call that failed.
        budget_tokens: Tokens a turn may use (None: no limit).
        budget_usd: Dollars a turn may spend (None: no limit).
        seed: Seed of the anonymising shuffle (None: random).
        **strategy_options: Passed to the strategy (``confidence_threshold=``,
            ``max_iterations=``...).

    Raises:
        ConfigurationError: unknown strategy or option, or a member or arbiter
            that contains this engine.
    """

    command_type = ConsortiumEngineCommand
    status_event_type = ConsortiumEngineStatusEvent

    def __init__(
        self,
        members: MemberSpec,
        arbiter: Model | str | None = None,
        strategy: str | Strategy = "arbiter",
        *,
        backup_arbiter: Model | str | None = None,
        session_id: str | None = None,
        engine_id: str | None = None,
        max_concurrency: int = 8,
        member_timeout: float | None = 120,
        member_retries: int = 1,
        budget_tokens: int | None = None,
        budget_usd: float | None = None,
        seed: int | None = None,
        bus: Bus | None = None,
        **strategy_options: Any,
    ) -> None:
        super().__init__(session_id=session_id, engine_id=engine_id, bus=bus)
        self.members: list[Member] = parse_members(members)
        self.arbiter: Model = get_model(arbiter) if arbiter is not None else self.members[0].model
        self.backup_arbiter = get_model(backup_arbiter) if backup_arbiter is not None else None
        self.strategy = make_strategy(strategy, strategy_options)
        self.strategy_options = dict(strategy_options)
        self.max_concurrency = max_concurrency
        self.member_timeout = member_timeout
        self.member_retries = member_retries
        self.budget_tokens = budget_tokens
        self.budget_usd = budget_usd
        # A seed is chosen when none is given, so the log can say it and a replay reuse it.
        self.seed = seed if seed is not None else random.SystemRandom().randrange(2**31)
        self.history: list[dict[str, Any]] = []
        self._turns = 0
        problem = self._containment()
        if problem:
            raise ConfigurationError(problem)

    # -- configuration --------------------------------------------------------

    def set_members(self, members: MemberSpec) -> None:
        """Use other members from now on (the conversation stays)."""
        previous, self.members = self.members, parse_members(members)
        self._check(lambda: setattr(self, "members", previous))

    def set_arbiter(self, arbiter: Model | str, backup: Model | str | None = None) -> None:
        """Use another arbiter (and backup arbiter) from now on."""
        previous = (self.arbiter, self.backup_arbiter)
        self.arbiter = get_model(arbiter)
        self.backup_arbiter = get_model(backup) if backup is not None else None

        def undo() -> None:
            self.arbiter, self.backup_arbiter = previous

        self._check(undo)

    def settings(self) -> dict[str, Any]:
        """Strategy, limits, budgets and seed (the members are in :meth:`model_strings`)."""
        return {
            "strategy": self.strategy.name,
            "strategy_options": to_jsonable(self.strategy_options),
            "max_concurrency": self.max_concurrency,
            "member_timeout": self.member_timeout,
            "member_retries": self.member_retries,
            "budget_tokens": self.budget_tokens,
            "budget_usd": self.budget_usd,
            "seed": self.seed,
            "members": [member.model_string for member in self.members],
            "arbiter": self.arbiter.model_string,
            "backup_arbiter": self.backup_arbiter.model_string if self.backup_arbiter else None,
        }

    def model_strings(self) -> list[str]:
        """The members', the arbiter's and the backup arbiter's models."""
        strings = [member.model_string for member in self.members]
        strings.append(self.arbiter.model_string)
        if self.backup_arbiter is not None:
            strings.append(self.backup_arbiter.model_string)
        return list(dict.fromkeys(strings))

    def random_seed(self) -> int | None:
        """The seed of the anonymising shuffle (turn n uses seed + n - 1)."""
        return self.seed

    @classmethod
    def rebuild(
        cls,
        settings: dict[str, Any],
        *,
        model_for: Callable[[str], Model],
        models: Sequence[str],
        tools: Sequence[Any] = (),
        session_id: str | None = None,
    ) -> Engine:
        """The consortium again: its members, arbiters and strategy from ``settings``."""
        backup = settings.get("backup_arbiter")
        return cls(
            [model_for(name) for name in settings["members"]],
            model_for(settings["arbiter"]),
            settings["strategy"],
            backup_arbiter=model_for(backup) if backup else None,
            session_id=session_id,
            max_concurrency=settings["max_concurrency"],
            member_timeout=settings["member_timeout"],
            member_retries=settings["member_retries"],
            budget_tokens=settings["budget_tokens"],
            budget_usd=settings["budget_usd"],
            seed=settings["seed"],
            **settings["strategy_options"],
        )

    def clear_context(self) -> None:
        """Forget the conversation."""
        self.history.clear()

    def _check(self, undo: Any) -> None:
        problem = self._containment()
        if problem:
            undo()
            raise ConfigurationError(problem)

    def _containment(self) -> str | None:
        """Why the consortium would contain itself, or None."""
        roles: list[tuple[str, object]] = [
            (f"member {m.label} ({m.model_string})", m.model) for m in self.members
        ]
        roles.append((f"arbiter {self.arbiter.model_string}", self.arbiter))
        if self.backup_arbiter is not None:
            roles.append(
                (f"backup arbiter {self.backup_arbiter.model_string}", self.backup_arbiter)
            )
        roles.append((f"{self.strategy.name} strategy's own model", self.strategy))
        for role, model in roles:
            if _reaches(model, self, set()):
                return (
                    f"a consortium cannot contain itself: the {role} is or wraps this "
                    "ConsortiumEngine"
                )
        return None

    # -- a turn -----------------------------------------------------------------

    async def handle_command(self, command: EngineCommand) -> CommandResult:
        """Answer ``command.prompt`` with the consortium.

        Never raises for a failure: a turn fails (with one readable error)
        only when no member answered; otherwise a failing combiner or an
        exhausted budget gives the best answer so far, with the reason in
        ``metadata["fallback_reason"]``. Cancelling the turn cancels every
        member call and leaves the conversation as it was.
        """
        if self.engine_id in _RUNNING.get():  # the outer turn's counters and status stay
            return self._result(
                command,
                None,
                [],
                "a consortium cannot contain itself: this ConsortiumEngine was called again "
                "while answering (by one of its members or its arbiter)",
            )
        self.usage.start_turn()
        problem = self._containment()
        if problem is not None:
            await self.finish()
            return self._result(command, None, [], problem)
        token = _RUNNING.set((*_RUNNING.get(), self.engine_id))
        try:
            run = self._new_run()
            outcome = await self._run_strategy(run, command.prompt)
        finally:
            _RUNNING.reset(token)
        await self.finish()
        if isinstance(outcome, str):
            return self._result(command, None, run.answers, outcome)
        self.history.append({"role": "user", "content": command.prompt})
        self.history.append({"role": "assistant", "content": outcome.answer})
        return self._result(command, outcome, outcome.answers or run.answers)

    def _new_run(self) -> ConsortiumRun:
        self._turns += 1
        return ConsortiumRun(
            self,
            self.members,
            history=self.history,
            max_concurrency=self.max_concurrency,
            member_timeout=self.member_timeout,
            member_retries=self.member_retries,
            budget=Budget(max_tokens=self.budget_tokens, max_usd=self.budget_usd),
            seed=self.seed + self._turns - 1,
            arbiter=self.arbiter,
            backup_arbiter=self.backup_arbiter,
        )

    async def _run_strategy(self, run: ConsortiumRun, prompt: str) -> ConsortiumOutcome | str:
        """The outcome, or why the turn failed."""
        try:
            outcome = await self.strategy.run(run, prompt)
        except asyncio.CancelledError:
            raise
        except BudgetExceeded as exc:
            return await self._salvage(run, str(exc), budget=True)
        except Exception as exc:
            text = str(exc).strip()
            error = f"{type(exc).__name__}: {text}" if text else type(exc).__name__
            if isinstance(exc, EngineError):
                error = text
            return await self._salvage(run, f"the {self.strategy.name} strategy failed ({error})")
        if not any(answer.ok for answer in run.answers):
            return _no_answer(run.answers)
        return outcome

    async def _salvage(
        self, run: ConsortiumRun, reason: str, *, budget: bool = False
    ) -> ConsortiumOutcome | str:
        """The best member answer after the strategy stopped early, or why there is none."""
        try:
            answer, how = fallback_answer(run.answers)
        except ValueError:
            return _no_answer(run.answers, reason if budget or not run.answers else None)
        fallback_reason = f"{reason}; used {how}"
        await run.combine_event("fallback", reason=fallback_reason)
        return ConsortiumOutcome(
            answer=answer,
            strategy=self.strategy.name,
            iterations=1,
            stop_reason=reason if budget else "strategy failed",
            fallback_reason=fallback_reason,
            answers=list(run.answers),
        )

    def _result(
        self,
        command: EngineCommand,
        outcome: ConsortiumOutcome | None,
        answers: list[MemberAnswer],
        error: str | None = None,
    ) -> CommandResult:
        metadata: dict[str, Any] = {
            **self.usage.metadata(),
            "strategy": self.strategy.name,
            "arbiter": self.arbiter.model_string,
            "members": [_summary(answer) for answer in answers],
        }
        if outcome is not None:
            metadata.update(
                iterations=outcome.iterations,
                confidence=outcome.confidence,
                stop_reason=outcome.stop_reason,
                fallback_reason=outcome.fallback_reason,
                details=outcome.details,
            )
        return CommandResult(
            success=outcome is not None,
            result=outcome.answer if outcome is not None else None,
            error=error,
            session_id=command.session_id,
            metadata=metadata,
        )


def _no_answer(answers: list[MemberAnswer], reason: str | None = None) -> str:
    failed = [f"{a.label} ({a.member.model_string}): {a.error}" for a in answers if not a.ok]
    text = "no member answered" + (": " + "; ".join(failed) if failed else "")
    return f"{text} ({reason})" if reason else text


async def use_consortium_engine(
    prompt: str,
    members: MemberSpec,
    arbiter: Model | str | None = None,
    strategy: str | Strategy = "arbiter",
    **options: Any,
) -> str:
    """Answer ``prompt`` with a consortium and return the text (no bus set-up needed).

    ``options`` are the engine's (``max_concurrency=``, ``budget_usd=``...)
    and the strategy's (``confidence_threshold=``, ``max_iterations=``...).

    Raises:
        EngineError: the consortium could not answer (no member answered).
        ConfigurationError: a bad strategy, option or member.
    """
    engine = ConsortiumEngine(members, arbiter, strategy, **options)
    return await engine.answer(prompt)
