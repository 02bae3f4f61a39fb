"""The provider extension point: credentials, a base URL and an authenticated SDK client.

A provider answers nothing itself: the wire models of :mod:`llmgine.models`
(``OpenAIChatModel``, ``AnthropicModel``) speak the API through its client.
One provider class serves many providers of a catalog entry (OpenAI's client
serves OpenRouter, Gemini's compatible endpoint, xAI, Ollama...).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

__all__ = ["Provider"]


class Provider(ABC):
    """An authenticated client for one provider API, with the SDK's own retries off.

    Retries, events and pricing are the instrumentation's job (one policy, one
    event per attempt), so the SDK client is made with ``max_retries=0``.
    Subclasses name the SDK's async client class in :meth:`client_class`.

    Args:
        name: Provider name (``"openai"``, ``"openrouter"``, ``"anthropic"``...).
        api_key: The key.
        base_url: API base URL; None lets the SDK decide (it reads its own
            ``*_BASE_URL`` variable).
        default_headers: Extra headers on every request.
        extra_body: Extra JSON fields on every request (OpenRouter's routing...).

    Attributes:
        client: The SDK's async client.
        base_url: Where its calls go.
    """

    @staticmethod
    @abstractmethod
    def client_class() -> Any:
        """The SDK's async client class (``openai.AsyncOpenAI``...)."""

    def __init__(
        self,
        name: str,
        api_key: str,
        base_url: str | None = None,
        *,
        default_headers: dict[str, str] | None = None,
        extra_body: dict[str, Any] | None = None,
    ) -> None:
        self.name = name
        self.client = self.client_class()(
            api_key=api_key, base_url=base_url, max_retries=0, default_headers=default_headers
        )
        self.base_url = str(self.client.base_url)
        self.extra_body = dict(extra_body or {})

    async def aclose(self) -> None:
        """Close the SDK client's connections."""
        await self.client.close()
