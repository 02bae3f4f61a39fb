"""The strategy extension point of the consortium engine."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import ClassVar

from llmgine.engines.consortium.run import ConsortiumOutcome, ConsortiumRun

__all__ = ["Strategy"]


class Strategy(ABC):
    """Decides who is asked what, and how answers are combined.

    A strategy gets a :class:`ConsortiumRun` (members, combiner calls,
    budget, events, history) and the prompt, and returns a
    :class:`ConsortiumOutcome`. It may raise
    :class:`~llmgine.engines.consortium.run.BudgetExceeded` (the engine then
    answers with the best member answer so far) but should catch it itself
    where it has something better to return.
    """

    #: The name used by ``ConsortiumEngine(strategy=...)`` and ``--strategy``.
    name: ClassVar[str]

    @abstractmethod
    async def run(self, run: ConsortiumRun, prompt: str) -> ConsortiumOutcome:
        """Answer ``prompt`` with the consortium."""
