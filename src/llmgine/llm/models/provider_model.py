"""Models served by a provider API (OpenAI, Anthropic and the OpenAI-compatible ones)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any, TypeVar

from llmgine.errors import (
    MissingAPIKeyError,
    ProviderConnectionError,
    ProviderError,
    ProviderRateLimitError,
    ProviderServerError,
)
from llmgine.llm.models.interface import Model
from llmgine.llm.providers.catalog import Providers, ProviderSpec, provider_spec
from llmgine.llm.providers.credentials import api_key_for
from llmgine.llm.providers.guard import check_model_request, is_local_url
from llmgine.llm.providers.interface import LLMRequest, Provider
from llmgine.llm.response import LLMResponse, StreamChunk
from llmgine.llm.retry import RetryPolicy

__all__ = ["ProviderModel"]

T = TypeVar("T")


def _checked_thinking(value: Any, model: str) -> dict[str, Any] | None:
    from llmgine.errors import ConfigurationError
    from llmgine.llm.providers.anthropic_format import thinking_config

    try:
        return thinking_config(value)
    except ValueError as exc:
        raise ConfigurationError(f"{model}: {exc}") from exc


class ProviderModel(Model):
    """A model of a provider API, e.g. ``ProviderModel("openai", "gpt-4.1-mini")``.

    Nothing is checked or connected at construction: the key is looked up (in
    the environment, then a ``.env`` file) and the SDK client made at the
    first call, so a missing key is a clear error there, naming the variable.

    Args:
        provider: Provider name, :class:`Providers` member or spec.
        name: Model id as the provider knows it.
        api_key: Use this key instead of the provider's variable.
        base_url: Use this API base URL instead of the provider's.
        retry: Retry policy (default :class:`RetryPolicy()`).
        timeout: Seconds per attempt (default 120).
        routing: OpenRouter only: provider order (list) or a full ``provider``
            routing object (dict), as in OpenRouter's API.
        default_headers: Extra HTTP headers on every request.
        **defaults: Request parameters applied to every call unless the call
            sets them (e.g. ``temperature=0.2``). Thinking is one of them:
            ``thinking=4096`` (a token budget), ``thinking="adaptive"`` or
            Anthropic's dict for Anthropic models; ``reasoning_effort="high"``
            for OpenAI's reasoning models.

    Raises:
        ConfigurationError: ``thinking`` is not a setting Anthropic understands.
    """

    def __init__(
        self,
        provider: str | Providers | ProviderSpec,
        name: str,
        *,
        api_key: str | None = None,
        base_url: str | None = None,
        retry: RetryPolicy | None = None,
        timeout: float | None = 120.0,
        routing: list[str] | dict[str, Any] | None = None,
        default_headers: dict[str, str] | None = None,
        **defaults: Any,
    ) -> None:
        super().__init__(retry=retry, timeout=timeout)
        self.spec = provider if isinstance(provider, ProviderSpec) else provider_spec(provider)
        self.provider = self.spec.name
        self.name = name
        if self.spec.wire == "anthropic" and defaults.get("thinking") is not None:
            defaults["thinking"] = _checked_thinking(defaults["thinking"], self.model_string)
        self.defaults = defaults
        self._api_key = api_key
        self._base_url = base_url
        self._routing = routing
        self._default_headers = default_headers
        self._backend: Provider | None = None
        self._backend_loop: asyncio.AbstractEventLoop | None = None

    @property
    def base_url(self) -> str:
        """Where this model's calls go."""
        if self._backend is not None:
            return self._backend.base_url
        return self._base_url or self.spec.effective_base_url()

    @property
    def provider_module(self) -> str:
        """The module that speaks this model's wire format (it imports the provider's SDK)."""
        wire = "anthropic" if self.spec.wire == "anthropic" else "openai"
        return f"llmgine.llm.providers.{wire}"

    def missing_key(self) -> str | None:
        """The variable to set when this model needs a key that is not set, else None."""
        if self._api_key:
            return None
        try:
            api_key_for(self.spec, self.name)
        except MissingAPIKeyError as exc:
            return exc.variable
        return None

    def failure_hint(self, error: ProviderError) -> str | None:
        """Ask whether a local server runs, or point at the network and the base URL."""
        if isinstance(error, ProviderConnectionError):
            url = self.base_url
            if is_local_url(url):
                return f"is the server at {url} running?"
            variable = self.spec.base_url_env
            where = f" (set {variable} to change it)" if variable else ""
            return f"check the network connection and the base URL {url}{where}"
        if isinstance(error, ProviderServerError):
            return f"{self.provider} is having trouble: try again in a while"
        if isinstance(error, ProviderRateLimitError):
            return "too many requests or tokens for the account: wait, or check its limits"
        return super().failure_hint(error)

    async def aclose(self) -> None:
        """Close the SDK client (a new one is made if the model is used again)."""
        backend, self._backend = self._backend, None
        if backend is not None:
            await backend.aclose()

    def _provider(self) -> Provider:
        check_model_request(self.base_url, self.provider, self.name)
        loop = asyncio.get_running_loop()
        if self._backend is not None and self._backend_loop is not loop:
            # The SDK's connection pool belongs to the loop that made it (an
            # earlier asyncio.run()): start afresh on this one.
            self._backend = None
        if self._backend is None:
            self._backend_loop = loop
            key = api_key_for(self.spec, self.name, self._api_key)
            base_url = self._base_url or self.spec.resolve_base_url()
            if self.spec.wire == "anthropic":
                from llmgine.llm.providers.anthropic import AnthropicProvider

                self._backend = AnthropicProvider(
                    self.provider, key, base_url, default_headers=self._default_headers
                )
            else:
                from llmgine.llm.providers.openai import OpenAIProvider

                self._backend = OpenAIProvider(
                    self.provider,
                    key,
                    base_url,
                    default_headers=self._default_headers,
                    extra_body=self._routing_body(),
                )
        return self._backend

    def _routing_body(self) -> dict[str, Any] | None:
        if self._routing is None:
            return None
        if isinstance(self._routing, dict):
            return {"provider": self._routing}
        # The seed's routing: these providers, in order, no fallback, no data retention.
        return {
            "provider": {
                "order": list(self._routing),
                "allow_fallbacks": False,
                "data_collection": "deny",
            }
        }

    def _with_defaults(self, request: LLMRequest) -> LLMRequest:
        for key, value in self.defaults.items():
            if hasattr(request, key) and key != "extra":
                if getattr(request, key) is None:
                    setattr(request, key, value)
            else:
                request.extra.setdefault(key, value)
        return request

    async def _complete(self, request: LLMRequest) -> LLMResponse:
        return await self._provider().complete(self._with_defaults(request))

    async def _stream(self, request: LLMRequest) -> AsyncIterator[StreamChunk]:
        async for chunk in self._provider().stream(self._with_defaults(request)):
            yield chunk

    async def _structured(
        self, request: LLMRequest, response_model: type[T], max_retries: int
    ) -> tuple[T, LLMResponse]:
        return await self._provider().structured(
            self._with_defaults(request), response_model, max_retries
        )
