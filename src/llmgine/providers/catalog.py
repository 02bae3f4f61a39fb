"""Which providers exist: their wire format, key variable and base URL."""

from __future__ import annotations

import os
from dataclasses import dataclass
from enum import Enum

__all__ = ["PROVIDERS", "ProviderSpec", "Providers", "provider_spec"]


class Providers(Enum):
    """Provider names, as in the seed (``Gpt41Mini(Providers.OPENAI)``)."""

    OPENAI = "openai"
    ANTHROPIC = "anthropic"
    OPENROUTER = "openrouter"
    GEMINI = "gemini"
    XAI = "xai"
    DEEPSEEK = "deepseek"
    OLLAMA = "ollama"
    OPENAI_COMPATIBLE = "openai-compatible"


@dataclass(frozen=True)
class ProviderSpec:
    """How to reach one provider.

    Attributes:
        name: The provider's name in model strings (``"openrouter:..."``).
        wire: The API it speaks: ``"openai"`` (Chat Completions) or ``"anthropic"``.
        key_env: Environment variables holding the key, first found wins.
        base_url: Default base URL; None leaves it to the SDK, which reads
            ``OPENAI_BASE_URL`` / ``ANTHROPIC_BASE_URL`` itself.
        base_url_env: Variable that overrides ``base_url``.
        key_required: False for local servers that accept any key.
        default_sdk_url: Where the SDK goes when ``base_url`` is None (for the
            test guard and messages).
    """

    name: str
    wire: str
    key_env: tuple[str, ...]
    base_url: str | None = None
    base_url_env: str | None = None
    key_required: bool = True
    default_sdk_url: str | None = None

    def resolve_base_url(self) -> str | None:
        """The base URL to pass to the SDK (None: the SDK's own default and env)."""
        if self.base_url_env and os.environ.get(self.base_url_env):
            return os.environ[self.base_url_env]
        return self.base_url

    def effective_base_url(self) -> str:
        """Where calls will go, for messages and the test guard."""
        url = self.resolve_base_url()
        if url:
            return url
        sdk_env = {"openai": "OPENAI_BASE_URL", "anthropic": "ANTHROPIC_BASE_URL"}[self.wire]
        return os.environ.get(sdk_env) or self.default_sdk_url or ""


PROVIDERS: dict[str, ProviderSpec] = {
    spec.name: spec
    for spec in (
        ProviderSpec(
            "openai", "openai", ("OPENAI_API_KEY",), default_sdk_url="https://api.openai.com/v1"
        ),
        ProviderSpec(
            "anthropic",
            "anthropic",
            ("ANTHROPIC_API_KEY",),
            default_sdk_url="https://api.anthropic.com",
        ),
        ProviderSpec(
            "openrouter",
            "openai",
            ("OPENROUTER_API_KEY",),
            base_url="https://openrouter.ai/api/v1",
            base_url_env="OPENROUTER_BASE_URL",
        ),
        ProviderSpec(
            "gemini",
            "openai",
            ("GEMINI_API_KEY", "GOOGLE_API_KEY"),
            base_url="https://generativelanguage.googleapis.com/v1beta/openai/",
            base_url_env="GEMINI_BASE_URL",
        ),
        ProviderSpec(
            "xai",
            "openai",
            ("XAI_API_KEY",),
            base_url="https://api.x.ai/v1",
            base_url_env="XAI_BASE_URL",
        ),
        ProviderSpec(
            "deepseek",
            "openai",
            ("DEEPSEEK_API_KEY",),
            base_url="https://api.deepseek.com",
            base_url_env="DEEPSEEK_BASE_URL",
        ),
        ProviderSpec(
            "ollama",
            "openai",
            ("OLLAMA_API_KEY",),
            base_url="http://localhost:11434/v1",
            base_url_env="OLLAMA_BASE_URL",
            key_required=False,
        ),
        ProviderSpec(
            "openai-compatible",
            "openai",
            ("OPENAI_COMPATIBLE_API_KEY",),
            base_url_env="OPENAI_COMPATIBLE_BASE_URL",
            key_required=False,
        ),
    )
}


def provider_spec(name: str | Providers) -> ProviderSpec:
    """The spec of a provider by name or enum member.

    Raises:
        UnknownModelError: no such provider.
    """
    from llmgine.errors import UnknownModelError

    key = name.value if isinstance(name, Providers) else name
    try:
        return PROVIDERS[key]
    except KeyError:
        known = ", ".join(sorted(PROVIDERS))
        raise UnknownModelError(f"unknown provider {key!r}; known providers: {known}") from None
