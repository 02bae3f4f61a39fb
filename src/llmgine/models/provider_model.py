"""Models served by a provider API: what the wire models share.

A :class:`ProviderModel` knows its provider's catalog entry, its default
request settings and how to get an authenticated client (a
:class:`~llmgine.providers.Provider`) at the first call. The wire format is
its subclass's: :class:`~llmgine.models.openai.OpenAIChatModel` (Chat
Completions: OpenAI and every compatible API) or
:class:`~llmgine.models.anthropic.AnthropicModel`; ``get_model("provider:model")``
picks the one the provider's wire calls for.
"""

from __future__ import annotations

import asyncio
from typing import Any, ClassVar

from llmgine.errors import (
    ConfigurationError,
    MissingAPIKeyError,
    ProviderConnectionError,
    ProviderError,
    ProviderRateLimitError,
    ProviderServerError,
)
from llmgine.models.interface import Model
from llmgine.models.request import LLMRequest
from llmgine.models.retry import RetryPolicy
from llmgine.providers.catalog import Providers, ProviderSpec, provider_spec
from llmgine.providers.credentials import api_key_for
from llmgine.providers.guard import check_model_request, is_local_url
from llmgine.providers.interface import Provider

__all__ = ["ProviderModel"]


def _spec(provider: str | Providers | ProviderSpec) -> ProviderSpec:
    return provider if isinstance(provider, ProviderSpec) else provider_spec(provider)


class ProviderModel(Model):
    """A model of a provider API: ``OpenAIChatModel("openrouter", "openai/gpt-4.1-mini")``.

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
        ConfigurationError: a setting the provider's wire does not understand.
    """

    #: The wire format a subclass speaks (``"openai"`` or ``"anthropic"``).
    wire: ClassVar[str] = ""

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
        self.spec = _spec(provider)
        if self.wire and self.spec.wire != self.wire:
            raise ConfigurationError(
                f"{type(self).__name__} speaks the {self.wire} wire format; {self.spec.name} "
                f"speaks {self.spec.wire}: use get_model('{self.spec.name}:{name}')"
            )
        self.provider = self.spec.name
        self.name = name
        self.defaults = self.check_defaults(defaults)
        self._api_key = api_key
        self._base_url = base_url
        self._routing = routing
        self._default_headers = default_headers
        self._backend: Provider | None = None
        self._backend_loop: asyncio.AbstractEventLoop | None = None

    def check_defaults(self, defaults: dict[str, Any]) -> dict[str, Any]:
        """The default request settings, checked for this wire (override to check more).

        Raises:
            ConfigurationError: a setting the wire does not understand.
        """
        return defaults

    @staticmethod
    def provider_class() -> type[Provider]:
        """The provider class whose client this wire model talks through."""
        raise NotImplementedError

    @property
    def base_url(self) -> str:
        """Where this model's calls go."""
        if self._backend is not None:
            return self._backend.base_url
        return self._base_url or self.spec.effective_base_url()

    @property
    def provider_module(self) -> str:
        """The module of this model's provider client (importing it imports the SDK)."""
        return f"llmgine.providers.{self.wire}"

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

    def get_provider(self) -> Provider:
        """The authenticated provider (client) for calls on the running event loop.

        Made at the first call: the key is looked up then. A client belongs to
        the loop that made it, so a new loop (a later ``asyncio.run()``) gets a
        new one.

        Raises:
            MissingAPIKeyError: the provider needs a key that is not set.
            ModelRequestsBlockedError: real model calls are blocked (tests).
        """
        check_model_request(self.base_url, self.provider, self.name)
        loop = asyncio.get_running_loop()
        if self._backend is not None and self._backend_loop is not loop:
            self._backend = None
        if self._backend is None:
            self._backend_loop = loop
            key = api_key_for(self.spec, self.name, self._api_key)
            self._backend = self.provider_class()(
                self.provider,
                key,
                self._base_url or self.spec.resolve_base_url(),
                default_headers=self._default_headers,
                extra_body=self._routing_body(),
            )
            self.client_changed()
        return self._backend

    def client_changed(self) -> None:
        """Hook: a new client was made (forget anything built on the old one)."""

    @property
    def client(self) -> Any:
        """The SDK client of :meth:`get_provider`."""
        return self.get_provider().client

    @property
    def extra_body(self) -> dict[str, Any]:
        """JSON fields the provider adds to every request (OpenRouter's routing)."""
        return self.get_provider().extra_body

    async def aclose(self) -> None:
        """Close the SDK client (a new one is made if the model is used again)."""
        backend, self._backend = self._backend, None
        if backend is not None:
            await backend.aclose()

    def with_defaults(self, request: LLMRequest) -> LLMRequest:
        """``request`` with this model's default settings where it sets none."""
        for key, value in self.defaults.items():
            if hasattr(request, key) and key != "extra":
                if getattr(request, key) is None:
                    setattr(request, key, value)
            else:
                request.extra.setdefault(key, value)
        return request

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
