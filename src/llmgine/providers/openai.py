"""The client of OpenAI's API and of every OpenAI-compatible one: ``openai.AsyncOpenAI``."""

from __future__ import annotations

from typing import Any

from llmgine.providers.interface import Provider

try:
    import openai
except ImportError as exc:  # pragma: no cover - a declared dependency
    raise ImportError(
        "OpenAI-format providers need the openai package: pip install openai"
    ) from exc

__all__ = ["OpenAIProvider"]


class OpenAIProvider(Provider):
    """``openai.AsyncOpenAI`` for OpenAI, OpenRouter, Gemini, xAI, DeepSeek, Ollama, vLLM..."""

    @staticmethod
    def client_class() -> Any:
        """``openai.AsyncOpenAI``."""
        return openai.AsyncOpenAI
