"""Providers: who serves a model - credentials, base URL and client - and the catalog of them.

The wire formats (Chat Completions, Anthropic Messages) are models: see
:mod:`llmgine.models`.
"""

from llmgine.providers.catalog import PROVIDERS, Providers, ProviderSpec, provider_spec
from llmgine.providers.credentials import api_key_for, key_source, load_dotenv_once
from llmgine.providers.guard import (
    allow_model_requests,
    blocked_model_requests,
    is_local_url,
    model_requests_allowed,
)
from llmgine.providers.interface import Provider

__all__ = [
    "PROVIDERS",
    "Provider",
    "ProviderSpec",
    "Providers",
    "allow_model_requests",
    "api_key_for",
    "blocked_model_requests",
    "is_local_url",
    "key_source",
    "load_dotenv_once",
    "model_requests_allowed",
    "provider_spec",
]
