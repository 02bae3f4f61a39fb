"""The consortium engine's command and its progress events (for UIs and logs)."""

from __future__ import annotations

from dataclasses import field
from typing import Any

from llmgine.engines.messages import EngineCommand, EngineStatusEvent
from llmgine.messages.events import Event

__all__ = [
    "ConsortiumCombineEvent",
    "ConsortiumEngineCommand",
    "ConsortiumEngineStatusEvent",
    "ConsortiumIterationEvent",
    "ConsortiumMemberEvent",
    "MoaReferenceCacheHitEvent",
]


class ConsortiumEngineCommand(EngineCommand):
    """Ask the consortium to answer ``prompt``."""


class ConsortiumEngineStatusEvent(EngineStatusEvent, kw_only=True):
    """Status of the consortium engine."""


class ConsortiumMemberEvent(Event, kw_only=True):
    """A member started, answered or failed.

    Attributes:
        engine_id: The engine.
        label: The member's anonymous label.
        model: The member's ``provider:model``.
        stage: Which step asked it (``"answer"``, ``"layer 2"``, ``"review 1"``...).
        state: ``"started"``, ``"answered"`` or ``"failed"``.
        content: The answer (when answered).
        error: What went wrong (when failed).
        duration_s: Seconds the call took.
        usage: Token usage (``Usage`` fields).
        cost_usd: Cost, when known.
    """

    engine_id: str = ""
    label: str = ""
    model: str = ""
    stage: str = ""
    state: str = ""
    content: str | None = None
    error: str | None = None
    duration_s: float = 0.0
    usage: dict[str, int] = field(default_factory=dict)
    cost_usd: float | None = None


class ConsortiumIterationEvent(Event, kw_only=True):
    """A strategy step finished (an arbiter iteration, an MoA layer, a council round).

    Attributes:
        engine_id: The engine.
        strategy: ``"arbiter"``, ``"moa"`` or ``"council"``.
        iteration: 1, 2, ...
        summary: What happened, in a line.
        confidence: The arbiter's confidence, when there is one.
        details: Strategy-specific data.
    """

    engine_id: str = ""
    strategy: str = ""
    iteration: int = 0
    summary: str = ""
    confidence: float | None = None
    details: dict[str, Any] = field(default_factory=dict)


class ConsortiumCombineEvent(Event, kw_only=True):
    """The combining step (arbiter, aggregator, final writer) started, finished or fell back.

    Attributes:
        engine_id: The engine.
        state: ``"started"``, ``"finished"``, ``"failed"`` or ``"fallback"``.
        model: Who combined (``provider:model``), if a model did.
        reason: Why a fallback was used.
        duration_s: Seconds it took.
    """

    engine_id: str = ""
    state: str = ""
    model: str | None = None
    reason: str | None = None
    duration_s: float = 0.0


class MoaReferenceCacheHitEvent(Event, kw_only=True):
    """Mixture of agents: the references' answers were reused, the state being unchanged.

    The advisory view the references would judge (conversation, request, tool
    results) hashed to the same value as when they last answered at this
    stage, so they were not asked again.

    Attributes:
        engine_id: The engine.
        stage: ``"layer 1"``, ``"layer 2"``... or ``"advice"`` (on tool results).
        view_hash: SHA-256 of the advisory view and of the members asked.
        references: Answers reused.
        members: The labels of the members whose answers were reused.
    """

    engine_id: str = ""
    stage: str = ""
    view_hash: str = ""
    references: int = 0
    members: list[str] = field(default_factory=list)
