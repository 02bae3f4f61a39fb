"""The seed's model classes, as thin presets over :class:`ProviderModel`.

``Gpt41Mini(Providers.OPENAI)`` is ``get_model("openai:gpt-4.1-mini")``;
``Gpt41Mini(Providers.OPENROUTER)`` the same model through OpenRouter.
"""

from __future__ import annotations

from typing import Any, ClassVar

from llmgine.errors import UnknownModelError
from llmgine.llm.models.provider_model import ProviderModel
from llmgine.llm.providers.catalog import Providers, provider_spec

__all__ = [
    "Claude35Haiku",
    "Gemini25FlashPreview",
    "Gpt41",
    "Gpt41Mini",
    "Gpt_4o_Mini_Latest",
    "Gpt_o3_Mini",
    "Grok3Mini",
    "PresetModel",
]


class PresetModel(ProviderModel):
    """A named model offered by one or more providers (``model_ids``: provider -> id)."""

    model_ids: ClassVar[dict[str, str]] = {}
    default_provider: ClassVar[Providers] = Providers.OPENAI

    def __init__(
        self, provider: Providers | str | None = None, engine_id: str | None = None, **settings: Any
    ) -> None:
        spec = provider_spec(provider if provider is not None else self.default_provider)
        try:
            model_id = self.model_ids[spec.name]
        except KeyError:
            offered = ", ".join(f"Providers.{p.upper()}" for p in self.model_ids)
            raise UnknownModelError(
                f"{type(self).__name__} is not offered through {spec.name}; use {offered}"
            ) from None
        super().__init__(spec, model_id, **settings)
        self.engine_id = engine_id


class Gpt41Mini(PresetModel):
    """GPT-4.1 mini."""

    model_ids: ClassVar[dict[str, str]] = {
        "openai": "gpt-4.1-mini",
        "openrouter": "openai/gpt-4.1-mini",
    }


class Gpt41(PresetModel):
    """GPT-4.1."""

    model_ids: ClassVar[dict[str, str]] = {"openai": "gpt-4.1", "openrouter": "openai/gpt-4.1"}


class Gpt_4o_Mini_Latest(PresetModel):  # noqa: N801 - the seed's name
    """GPT-4o mini."""

    model_ids: ClassVar[dict[str, str]] = {
        "openai": "gpt-4o-mini",
        "openrouter": "openai/gpt-4o-mini",
    }


class Gpt_o3_Mini(PresetModel):  # noqa: N801 - the seed's name
    """o3-mini (a reasoning model: temperature is not sent)."""

    model_ids: ClassVar[dict[str, str]] = {"openai": "o3-mini", "openrouter": "openai/o3-mini"}


class Claude35Haiku(PresetModel):
    """Claude 3.5 Haiku."""

    default_provider = Providers.ANTHROPIC
    model_ids: ClassVar[dict[str, str]] = {
        "anthropic": "claude-3-5-haiku-latest",
        "openrouter": "anthropic/claude-3.5-haiku",
    }


class Gemini25FlashPreview(PresetModel):
    """Gemini 2.5 Flash."""

    default_provider = Providers.OPENROUTER
    model_ids: ClassVar[dict[str, str]] = {
        "openrouter": "google/gemini-2.5-flash",
        "gemini": "gemini-2.5-flash",
    }


class Grok3Mini(PresetModel):
    """Grok 3 mini."""

    default_provider = Providers.OPENROUTER
    model_ids: ClassVar[dict[str, str]] = {"openrouter": "x-ai/grok-3-mini", "xai": "grok-3-mini"}
