"""The seed's model classes, as names for model strings.

``Gpt41Mini(Providers.OPENAI)`` is ``get_model("openai:gpt-4.1-mini")``;
``Gpt41Mini(Providers.OPENROUTER)`` the same model through OpenRouter.
"""

from __future__ import annotations

from typing import Any, ClassVar

from llmgine.errors import UnknownModelError
from llmgine.models.interface import Model
from llmgine.models.registry import get_model
from llmgine.providers.catalog import Providers, provider_spec

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


class PresetModel:
    """A named model offered by one or more providers (``model_ids``: provider -> id).

    Calling a preset class gives the model itself: ``Gpt41Mini(Providers.OPENROUTER)``
    is ``get_model("openrouter:openai/gpt-4.1-mini")``, settings included.
    """

    model_ids: ClassVar[dict[str, str]] = {}
    default_provider: ClassVar[Providers] = Providers.OPENAI

    def __new__(  # type: ignore[misc]
        cls, provider: Providers | str | None = None, engine_id: str | None = None, **settings: Any
    ) -> Model:
        """The preset's model through ``provider`` (default: the preset's provider).

        Raises:
            UnknownModelError: the preset is not offered through that provider.
        """
        spec = provider_spec(provider if provider is not None else cls.default_provider)
        try:
            model_id = cls.model_ids[spec.name]
        except KeyError:
            offered = ", ".join(f"Providers.{p.upper()}" for p in cls.model_ids)
            raise UnknownModelError(
                f"{cls.__name__} is not offered through {spec.name}; use {offered}"
            ) from None
        return get_model(f"{spec.name}:{model_id}", **settings)


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
