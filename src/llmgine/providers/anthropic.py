"""The client of Anthropic's API: ``anthropic.AsyncAnthropic``."""

from __future__ import annotations

from typing import Any

from llmgine.providers.interface import Provider

try:
    import anthropic
except ImportError as exc:  # pragma: no cover - a declared dependency
    raise ImportError(
        "the Anthropic provider needs the anthropic package: pip install anthropic"
    ) from exc

__all__ = ["AnthropicProvider"]


class AnthropicProvider(Provider):
    """``anthropic.AsyncAnthropic``."""

    @staticmethod
    def client_class() -> Any:
        """``anthropic.AsyncAnthropic``."""
        return anthropic.AsyncAnthropic
