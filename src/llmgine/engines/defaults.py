"""Which model to use when none is given: the first provider with a key, else the demo model."""

from __future__ import annotations

import os
from typing import Any

from llmgine.models.interface import Model
from llmgine.models.registry import get_model
from llmgine.providers.credentials import load_dotenv_once

__all__ = ["DEFAULT_MODELS", "default_model", "missing_key_warning"]

#: Checked in order: the model used when its provider's key variable is set.
DEFAULT_MODELS: tuple[tuple[str, str], ...] = (
    ("OPENAI_API_KEY", "openai:gpt-4.1-mini"),
    ("ANTHROPIC_API_KEY", "anthropic:claude-haiku-4-5"),
    ("OPENROUTER_API_KEY", "openrouter:openai/gpt-4.1-mini"),
    ("GEMINI_API_KEY", "gemini:gemini-2.5-flash"),
    ("XAI_API_KEY", "xai:grok-3-mini"),
    ("DEEPSEEK_API_KEY", "deepseek:deepseek-chat"),
)

OFFLINE_NOTICE = (
    "No API key found: using the offline demo model (its answers are labelled [offline "
    "demo]). Set OPENAI_API_KEY (or another provider's key, in the environment or a .env "
    "file) or pick a model with --model."
)


def default_model() -> tuple[Model, str | None]:
    """The model to use and, when it is the offline one, a one-line notice saying so."""
    load_dotenv_once()
    for variable, name in DEFAULT_MODELS:
        if os.environ.get(variable):
            return get_model(name), None
    return get_model("demo"), OFFLINE_NOTICE


def missing_key_warning(model: Any) -> str | None:
    """A warning line when ``model`` needs an API key that is not set, else None."""
    missing = getattr(model, "missing_key", None)
    variable = missing() if callable(missing) else None
    if not variable:
        return None
    return (
        f"warning: {variable} is not set, so {model.model_string} cannot answer; set it "
        "in the environment or a .env file"
    )
