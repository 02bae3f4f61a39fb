"""Offline members and arbiters for the consortium tests."""

from __future__ import annotations

import json
from typing import Any

from llmgine.models.response import LLMResponse, Usage
from llmgine.testing import FunctionModel


def member(text: str, name: str = "member", latency: float = 0.0) -> FunctionModel:
    """A member that always answers ``text``."""
    return FunctionModel(lambda messages, info: text, name=name, latency=latency)


def failing(name: str = "broken", error: Exception | None = None) -> FunctionModel:
    """A member that always raises."""

    def fn(messages: list[dict[str, Any]], info: Any) -> str:
        raise error or RuntimeError(f"{name} is down")

    return FunctionModel(fn, name=name)


def verdict(
    synthesis: str = "the synthesis",
    confidence: Any = 0.9,
    *,
    needs_iteration: bool = False,
    refinement_areas: list[str] | None = None,
    ranking: list[str] | None = None,
) -> dict[str, Any]:
    return {
        "synthesis": synthesis,
        "confidence": confidence,
        "analysis": "compared",
        "dissent": "",
        "needs_iteration": needs_iteration,
        "refinement_areas": refinement_areas or [],
        "ranking": ranking or [],
    }


class Judge(FunctionModel):
    """An arbiter playing back replies in turn (the last one repeats).

    A dict is sent as JSON, a str as it is, an exception is raised. ``prompts``
    records the last message of every call; ``structured`` whether it asked
    for structured output.
    """

    def __init__(self, *replies: Any, name: str = "judge", latency: float = 0.0) -> None:
        self.replies = list(replies)
        self.prompts: list[str] = []
        self.requests: list[list[dict[str, Any]]] = []
        self.structured: list[bool] = []
        super().__init__(self._reply, name=name, latency=latency)

    def _reply(self, messages: list[dict[str, Any]], info: Any) -> Any:
        self.requests.append(messages)
        self.prompts.append(str(messages[-1]["content"]))
        self.structured.append(info.request.response_format is not None)
        reply = self.replies[min(len(self.prompts), len(self.replies)) - 1]
        if isinstance(reply, Exception):
            raise reply
        if isinstance(reply, dict):
            return json.dumps(reply)
        return reply


def priced(text: str, tokens: int = 10, cost: float = 0.001) -> LLMResponse:
    return LLMResponse(
        content=text,
        usage=Usage(prompt_tokens=tokens // 2, completion_tokens=tokens - tokens // 2),
        cost_usd=cost,
    )
