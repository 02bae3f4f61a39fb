"""The provider extension point: one wire format behind one small interface."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any, TypeVar

from llmgine.llm.response import LLMResponse, StreamChunk

__all__ = ["LLMRequest", "Provider", "SDKProvider"]

T = TypeVar("T")


@dataclass
class LLMRequest:
    """One call's input, independent of the wire format.

    Attributes:
        model: Model id as the provider knows it.
        messages: The conversation, OpenAI chat format.
        tools: Tool schemas, OpenAI function format (providers translate).
        tool_choice: ``"auto"``, ``"none"``, ``"required"`` or a specific tool.
        temperature: Sampling temperature, if set.
        max_completion_tokens: Output token limit, if set.
        response_format: OpenAI ``response_format`` (JSON mode / schema), if set.
        extra: Other provider parameters, passed through.
        timeout: Seconds before the call is abandoned (and retried).
    """

    model: str
    messages: list[dict[str, Any]]
    tools: list[dict[str, Any]] | None = None
    tool_choice: Any = "auto"
    temperature: float | None = None
    max_completion_tokens: int | None = None
    response_format: dict[str, Any] | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    timeout: float | None = None


class Provider(ABC):
    """Talks one wire format; raises :class:`~llmgine.errors.ProviderError` subclasses.

    Retries, events and pricing are the model's job; a provider makes one
    attempt per call.
    """

    #: Provider name (``"openai"``, ``"openrouter"``, ...).
    name: str
    #: Where its calls go.
    base_url: str

    async def aclose(self) -> None:  # noqa: B027 - optional: most have a client to close
        """Close network resources (the SDK client's connection pool)."""

    @abstractmethod
    async def complete(self, request: LLMRequest) -> LLMResponse:
        """Send ``request`` and return the whole answer."""

    @abstractmethod
    def stream(self, request: LLMRequest) -> AsyncIterator[StreamChunk]:
        """Send ``request`` and yield deltas, then the complete :class:`LLMResponse`."""

    @abstractmethod
    async def structured(
        self, request: LLMRequest, response_model: type[T], max_retries: int
    ) -> tuple[T, LLMResponse]:
        """Return an instance of ``response_model`` validated from the answer (instructor)."""


class SDKProvider(Provider):
    """A provider on an official SDK client, whose own retries are turned off.

    Subclasses name the SDK's async client class in :meth:`client_class`.

    Args:
        name: Provider name.
        api_key: The key.
        base_url: API base URL; None lets the SDK decide (it reads its own
            ``*_BASE_URL`` variable).
        default_headers: Extra headers on every request.
        extra_body: Extra JSON fields on every request.
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
        # max_retries=0: retries are the model's job (events per attempt, one policy).
        self.client = self.client_class()(
            api_key=api_key, base_url=base_url, max_retries=0, default_headers=default_headers
        )
        self.base_url = str(self.client.base_url)
        self.extra_body = dict(extra_body or {})
        self._instructor: Any = None

    async def aclose(self) -> None:
        """Close the SDK client's connections."""
        await self.client.close()
