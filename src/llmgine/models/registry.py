"""``get_model("provider:model")``: every model by one string."""

from __future__ import annotations

import re
from typing import Any

from llmgine.errors import UnknownModelError
from llmgine.models.demo import DemoModel
from llmgine.models.instrumented import InstrumentedModel
from llmgine.models.interface import Model
from llmgine.models.provider_model import ProviderModel
from llmgine.models.test import TestModel
from llmgine.providers.catalog import PROVIDERS, provider_spec

__all__ = ["OFFLINE_MODELS", "get_model", "known_providers", "wire_model_class"]

# Bare model names people type, and the provider they mean.
_GUESSES = (
    (re.compile(r"^(gpt-|o\d|chatgpt-)"), "openai"),
    (re.compile(r"^claude-"), "anthropic"),
    (re.compile(r"^gemini-"), "gemini"),
    (re.compile(r"^grok-"), "xai"),
    (re.compile(r"^deepseek-"), "deepseek"),
)
#: Offline models by name: no key, no network, no cost.
OFFLINE_MODELS = ("demo", "test")
_COMPATIBLE = re.compile(r"^(?P<model>.+?)@(?P<url>https?://\S+)$")
#: Settings a model string may carry after ``?``: ``"anthropic:claude-sonnet-4-5?thinking=4096"``.
MODEL_STRING_OPTIONS = ("thinking", "reasoning_effort")


def _split_options(text: str) -> tuple[str, dict[str, str]]:
    """``(name, options)`` of ``"name?thinking=4096&reasoning_effort=high"``.

    Only a suffix made entirely of known options is taken, so a ``?`` inside
    a server URL (``model@http://host/v1?x=1``) is left alone.
    """
    name, sep, query = text.rpartition("?")
    if not sep or not name:
        return text, {}
    options: dict[str, str] = {}
    for pair in query.split("&"):
        key, eq, value = pair.partition("=")
        if not eq or key.strip() not in MODEL_STRING_OPTIONS or not value.strip():
            return text, {}
        options[key.strip()] = value.strip()
    return name, options


def known_providers() -> list[str]:
    """Provider names ``get_model`` accepts (``"demo"`` and ``"test"`` are offline models)."""
    return sorted([*PROVIDERS, *OFFLINE_MODELS])


def get_model(name: str | Model, **settings: Any) -> Model:
    """The model named ``"provider:model"``.

    Examples: ``"openai:gpt-4.1-mini"``, ``"anthropic:claude-3-5-haiku-latest"``,
    ``"openrouter:google/gemini-2.5-flash"``, ``"gemini:gemini-2.5-flash"``,
    ``"xai:grok-3-mini"``, ``"deepseek:deepseek-chat"``, ``"ollama:llama3.2"``,
    ``"openai-compatible:my-model@http://localhost:8000/v1"`` (or set
    ``OPENAI_COMPATIBLE_BASE_URL``), ``"demo"`` for the offline
    :class:`~llmgine.models.demo.DemoModel` the CLI falls back to, and
    ``"test"`` for the offline :class:`~llmgine.testing.TestModel`. A bare ``"gpt-4.1-mini"`` or
    ``"claude-..."`` is given its usual provider. A :class:`Model` is returned
    as it is.

    The model comes wrapped in an :class:`~llmgine.models.instrumented.InstrumentedModel`:
    retries and prices; an engine that uses it sends its events to its bus.

    Thinking can be asked for in the string (handy on a command line) or as
    a setting: ``"anthropic:claude-sonnet-4-5?thinking=4096"`` (a budget, or
    ``thinking=adaptive``) is ``get_model("anthropic:claude-sonnet-4-5",
    thinking=4096)``; ``"openai:o4-mini?reasoning_effort=high"`` is
    ``get_model("openai:o4-mini", reasoning_effort="high")``. A setting given
    as a keyword wins over the string's.

    Args:
        name: The model string (or a model).
        **settings: Passed to the model (``retry=``, ``timeout=``, ``api_key=``,
            ``base_url=``, ``routing=``, ``thinking=``, ``reasoning_effort=``,
            default request parameters...).

    Raises:
        UnknownModelError: the provider is unknown (the message lists the known ones).
        ConfigurationError: a thinking setting Anthropic does not understand.
    """
    if isinstance(name, Model):
        return name
    text, options = _split_options(name.strip())
    for key, value in options.items():
        settings.setdefault(key, value)
    provider, sep, model = text.partition(":")
    if provider in OFFLINE_MODELS:
        if sep and model not in ("", provider):
            settings.setdefault("name", model)
        offline = DemoModel if provider == "demo" else TestModel
        return InstrumentedModel(offline(**settings))
    if not sep:
        for pattern, guess in _GUESSES:
            if pattern.match(text):
                provider, model = guess, text
                break
        else:
            raise UnknownModelError(
                f"cannot tell the provider of {text!r}: write it as 'provider:model', e.g. "
                f"'openai:gpt-4.1-mini'. Known providers: {', '.join(known_providers())}"
            )
    if provider not in PROVIDERS:
        raise UnknownModelError(
            f"unknown provider {provider!r} in {text!r}; known providers: "
            f"{', '.join(known_providers())}"
        )
    if provider == "openai-compatible":
        match = _COMPATIBLE.match(model)
        if match:
            model = match["model"]
            settings.setdefault("base_url", match["url"])
        elif "base_url" not in settings and not provider_spec(provider).resolve_base_url():
            raise UnknownModelError(
                f"{text!r} needs a server: write 'openai-compatible:<model>@<base_url>' "
                "(e.g. 'openai-compatible:llama3@http://localhost:8000/v1') or set "
                "OPENAI_COMPATIBLE_BASE_URL"
            )
    if not model:
        raise UnknownModelError(f"{text!r} names no model: write e.g. '{provider}:<model id>'")
    return InstrumentedModel(
        wire_model_class(provider_spec(provider).wire)(provider, model, **settings)
    )


def wire_model_class(wire: str) -> type[ProviderModel]:
    """The model class of a wire format; its module (and SDK) is imported on first use."""
    if wire == "anthropic":
        from llmgine.models.anthropic import AnthropicModel

        return AnthropicModel
    from llmgine.models.openai import OpenAIChatModel

    return OpenAIChatModel
