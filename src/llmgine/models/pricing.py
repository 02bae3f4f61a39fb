"""Call cost from token usage and the price table in ``data/prices.json``."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from importlib import resources

from llmgine.models.response import Usage

__all__ = ["CACHE_WRITE_1H_FACTOR", "CACHE_WRITE_5M_FACTOR", "Price", "cost_usd", "price_for"]

#: A prompt-cache write of five minutes costs this much times the input rate
#: (Anthropic's price; used when an entry names no ``cache_write``).
CACHE_WRITE_5M_FACTOR = 1.25
#: A one-hour prompt-cache write costs this much times the input rate.
CACHE_WRITE_1H_FACTOR = 2.0


@dataclass(frozen=True)
class Price:
    """USD per million tokens.

    Attributes:
        input: Fresh input tokens.
        output: Output tokens (reasoning included).
        cached_input: Input tokens read from the prompt cache (None: the input rate).
        cache_write: Input tokens written to the cache for five minutes
            (None: ``CACHE_WRITE_5M_FACTOR`` x input).
        cache_write_1h: Input tokens written to the cache for one hour
            (None: ``CACHE_WRITE_1H_FACTOR`` x input).
    """

    input: float
    output: float
    cached_input: float | None = None
    cache_write: float | None = None
    cache_write_1h: float | None = None

    @property
    def cache_read_rate(self) -> float:
        """USD per million cache reads."""
        return self.cached_input if self.cached_input is not None else self.input

    @property
    def cache_write_rate(self) -> float:
        """USD per million five-minute cache writes."""
        if self.cache_write is not None:
            return self.cache_write
        return self.input * CACHE_WRITE_5M_FACTOR

    @property
    def cache_write_1h_rate(self) -> float:
        """USD per million one-hour cache writes."""
        if self.cache_write_1h is not None:
            return self.cache_write_1h
        return self.input * CACHE_WRITE_1H_FACTOR


@cache
def _table() -> dict[str, Price]:
    text = resources.files("llmgine.models").joinpath("data/prices.json").read_text()
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
    """USD cost of ``usage`` on ``provider:model``, or None when the price is unknown.

    ``prompt_tokens`` is split into cache reads (the cached rate), cache writes
    (the five-minute or one-hour write rate) and fresh input (the input rate);
    counts larger than the prompt are capped at it.
    """
    price = price_for(provider, model)
    if price is None:
        return None
    reads = min(usage.cached_tokens, usage.prompt_tokens)
    writes = min(usage.cache_write_tokens, usage.prompt_tokens - reads)
    writes_1h = min(usage.cache_write_1h_tokens, writes)
    fresh = usage.prompt_tokens - reads - writes
    total = (
        fresh * price.input
        + reads * price.cache_read_rate
        + (writes - writes_1h) * price.cache_write_rate
        + writes_1h * price.cache_write_1h_rate
        + usage.completion_tokens * price.output
    )
    return round(total / 1_000_000, 8)
