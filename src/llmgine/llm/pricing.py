"""Call cost from token usage and the price table in ``data/prices.json``."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from importlib import resources

from llmgine.llm.response import Usage

__all__ = ["Price", "cost_usd", "price_for"]


@dataclass(frozen=True)
class Price:
    """USD per million tokens."""

    input: float
    output: float
    cached_input: float | None = None


@cache
def _table() -> dict[str, Price]:
    text = resources.files("llmgine.llm").joinpath("data/prices.json").read_text()
    raw = json.loads(text)
    return {key: Price(**value) for key, value in raw.items() if not key.startswith("_")}


def price_for(provider: str, model: str) -> Price | None:
    """The price of ``provider:model``: an exact entry, else the longest key it starts with.

    So ``gpt-4.1-mini-2025-04-14`` is priced as ``gpt-4.1-mini``; unknown models get None.
    """
    table = _table()
    key = f"{provider}:{model}"
    if key in table:
        return table[key]
    matches = [k for k in table if key.startswith(k)]
    return table[max(matches, key=len)] if matches else None


def cost_usd(provider: str, model: str, usage: Usage) -> float | None:
    """USD cost of ``usage`` on ``provider:model``, or None when the price is unknown."""
    price = price_for(provider, model)
    if price is None:
        return None
    cached = min(usage.cached_tokens, usage.prompt_tokens)
    cached_rate = price.cached_input if price.cached_input is not None else price.input
    total = (
        (usage.prompt_tokens - cached) * price.input
        + cached * cached_rate
        + usage.completion_tokens * price.output
    )
    return round(total / 1_000_000, 8)
