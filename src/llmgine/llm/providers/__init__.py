"""Providers: the wire formats behind models (OpenAI Chat Completions, Anthropic Messages)."""

from llmgine.llm.providers.catalog import PROVIDERS, Providers, ProviderSpec, provider_spec
from llmgine.llm.providers.guard import (
    allow_model_requests,
    blocked_model_requests,
    model_requests_allowed,
)
from llmgine.llm.providers.interface import LLMRequest, Provider

__all__ = [
    "PROVIDERS",
    "LLMRequest",
    "Provider",
    "ProviderSpec",
    "Providers",
    "allow_model_requests",
    "blocked_model_requests",
    "model_requests_allowed",
    "provider_spec",
]
