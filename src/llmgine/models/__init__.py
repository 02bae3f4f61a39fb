"""Models: the wire formats, ``get_model("provider:model")``, instrumentation, offline models.

* :class:`Model` - the extension point: public ``request``, ``request_stream``
  and ``request_structured`` (one attempt each, no bus).
* :class:`InstrumentedModel` / :func:`instrument` - retries, pricing and the
  LLM events around any model.
* :class:`OpenAIChatModel` and :class:`AnthropicModel` (imported on first
  use: they import their SDKs) - the two wire formats, over a
  :mod:`~llmgine.providers` client.
* :class:`DemoModel` and, in :mod:`llmgine.testing`, the test models.
* :class:`Embedder`, :func:`get_embedder`: embeddings - :class:`OpenAIEmbedder`
  (imported on first use) and the offline :class:`HashEmbedder`.
"""

from importlib import import_module
from typing import Any

from llmgine.models.availability import Availability, check_models
from llmgine.models.demo import DemoModel
from llmgine.models.embedder import Embedder
from llmgine.models.embedders import get_embedder
from llmgine.models.events import LLMCallEvent, LLMResponseEvent
from llmgine.models.hash_embedder import HashEmbedder
from llmgine.models.instrumented import InstrumentedModel, instrument
from llmgine.models.interface import Model
from llmgine.models.presets import (
    Claude35Haiku,
    Gemini25FlashPreview,
    Gpt41,
    Gpt41Mini,
    Gpt_4o_Mini_Latest,
    Gpt_o3_Mini,
    Grok3Mini,
    PresetModel,
)
from llmgine.models.provider_model import ProviderModel
from llmgine.models.registry import get_model, known_providers
from llmgine.models.request import LLMRequest, Messages
from llmgine.models.response import (
    LLMResponse,
    RedactedThinkingPart,
    StreamChunk,
    TextDelta,
    ThinkingDelta,
    ThinkingPart,
    ToolCallDelta,
    Usage,
)
from llmgine.models.retry import NO_RETRY, RetryPolicy
from llmgine.providers.catalog import Providers

# The wire models import their SDKs (seconds on a slow machine): loaded on first use.
_LAZY = {
    "OpenAIChatModel": "llmgine.models.openai",
    "AnthropicModel": "llmgine.models.anthropic",
    "OpenAIEmbedder": "llmgine.models.openai_embedder",
}

__all__ = [
    "NO_RETRY",
    "AnthropicModel",
    "Availability",
    "Claude35Haiku",
    "DemoModel",
    "Embedder",
    "Gemini25FlashPreview",
    "Gpt41",
    "Gpt41Mini",
    "Gpt_4o_Mini_Latest",
    "Gpt_o3_Mini",
    "Grok3Mini",
    "HashEmbedder",
    "InstrumentedModel",
    "LLMCallEvent",
    "LLMRequest",
    "LLMResponse",
    "LLMResponseEvent",
    "Messages",
    "Model",
    "OpenAIChatModel",
    "OpenAIEmbedder",
    "PresetModel",
    "ProviderModel",
    "Providers",
    "RedactedThinkingPart",
    "RetryPolicy",
    "StreamChunk",
    "TextDelta",
    "ThinkingDelta",
    "ThinkingPart",
    "ToolCallDelta",
    "Usage",
    "check_models",
    "get_embedder",
    "get_model",
    "instrument",
    "known_providers",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'llmgine.models' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value
