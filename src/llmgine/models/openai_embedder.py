"""Embeddings through an OpenAI-format API (OpenAI, OpenRouter, Gemini, Ollama...), official SDK.

The client comes from :mod:`llmgine.providers` (the key from the provider's
variable or a ``.env`` file, its base URL), made at the first call; SDK and
transport errors become :class:`~llmgine.errors.ProviderError` subclasses.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from llmgine.errors import ConfigurationError, ProviderResponseError
from llmgine.models.embedder import Embedder
from llmgine.models.sdk_errors import TRANSPORT_ERRORS, map_sdk_error
from llmgine.providers.catalog import provider_spec
from llmgine.providers.credentials import api_key_for
from llmgine.providers.guard import check_model_request
from llmgine.providers.openai import OpenAIProvider

__all__ = ["OpenAIEmbedder"]


class OpenAIEmbedder(Embedder):
    """``client.embeddings.create`` of the ``openai`` SDK, in batches.

    Args:
        model: The embedding model (default ``text-embedding-3-small``).
        provider: A provider speaking OpenAI's API (``"openai"``, ``"openrouter"``...).
        dimensions: Ask for shorter vectors (the ``text-embedding-3`` models allow it).
        api_key: Use this key instead of the provider's variable.
        base_url: Use this API base URL instead of the provider's.
        timeout: Seconds per request.
        batch_size: Most texts per request.

    Raises:
        ConfigurationError: the provider does not speak OpenAI's API.
        UnknownModelError: no such provider.
    """

    def __init__(
        self,
        model: str = "text-embedding-3-small",
        provider: str = "openai",
        *,
        dimensions: int | None = None,
        api_key: str | None = None,
        base_url: str | None = None,
        timeout: float = 60.0,
        batch_size: int = 256,
    ) -> None:
        self.spec = provider_spec(provider)
        if self.spec.wire != "openai":
            raise ConfigurationError(
                f"{self.spec.name} has no OpenAI-format embeddings API: use an OpenAI-format "
                "provider (openai, openrouter, gemini, ollama, openai-compatible) or hash"
            )
        self.provider = self.spec.name
        self.model = model
        self.dimensions = dimensions
        self.timeout = timeout
        self.batch_size = max(1, batch_size)
        self._api_key = api_key
        self._base_url = base_url
        self._backend: OpenAIProvider | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    @property
    def name(self) -> str:
        """``"provider:model"`` (with ``@dimensions`` when shortened)."""
        suffix = f"@{self.dimensions}" if self.dimensions else ""
        return f"{self.provider}:{self.model}{suffix}"

    @property
    def base_url(self) -> str:
        """Where the calls go."""
        return self._base_url or self.spec.effective_base_url()

    def _client(self) -> Any:
        check_model_request(self.base_url, self.provider, self.model)
        loop = asyncio.get_running_loop()
        if self._backend is None or self._loop is not loop:  # a client belongs to its loop
            key = api_key_for(self.spec, self.model, self._api_key)
            base = self._base_url or self.spec.resolve_base_url()
            self._backend, self._loop = OpenAIProvider(self.provider, key, base), loop
        return self._backend.client

    async def embed(self, texts: Sequence[str]) -> list[list[float]]:
        """The vectors of ``texts``, in order (one request per ``batch_size`` texts).

        Raises:
            MissingAPIKeyError: the provider's key is not set.
            ProviderError: a request failed (auth, rate limit, timeout, ...).
        """
        if not texts:
            return []
        import openai

        client = self._client()
        failures: tuple[type[Exception], ...] = (openai.OpenAIError, *TRANSPORT_ERRORS)
        extra = {"dimensions": self.dimensions} if self.dimensions else {}
        vectors: list[list[float]] = []
        for start in range(0, len(texts), self.batch_size):
            batch = [text or " " for text in texts[start : start + self.batch_size]]
            try:
                response = await client.embeddings.create(
                    model=self.model, input=batch, timeout=self.timeout, **extra
                )
            except failures as exc:
                raise map_sdk_error(
                    exc, openai, self.provider, self.model, wait=self.timeout
                ) from exc
            data = sorted(response.data, key=lambda item: item.index)
            if len(data) != len(batch):
                raise ProviderResponseError(
                    f"asked for {len(batch)} embeddings, got {len(data)}",
                    provider=self.provider,
                    model=self.model,
                )
            vectors.extend([float(x) for x in item.embedding] for item in data)
        return vectors

    async def aclose(self) -> None:
        """Close the SDK client."""
        backend, self._backend = self._backend, None
        if backend is not None:
            await backend.aclose()
