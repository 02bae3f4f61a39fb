"""Models: ``get_model("provider:model")``, the ``Model`` interface and the seed's presets."""

from llmgine.llm.models.interface import Messages, Model
from llmgine.llm.models.presets import (
    Claude35Haiku,
    Gemini25FlashPreview,
    Gpt41,
    Gpt41Mini,
    Gpt_4o_Mini_Latest,
    Gpt_o3_Mini,
    Grok3Mini,
    PresetModel,
)
from llmgine.llm.models.provider_model import ProviderModel
from llmgine.llm.models.registry import get_model, known_providers
from llmgine.llm.providers.catalog import Providers

__all__ = [
    "Claude35Haiku",
    "Gemini25FlashPreview",
    "Gpt41",
    "Gpt41Mini",
    "Gpt_4o_Mini_Latest",
    "Gpt_o3_Mini",
    "Grok3Mini",
    "Messages",
    "Model",
    "PresetModel",
    "ProviderModel",
    "Providers",
    "get_model",
    "known_providers",
]
