"""Seed import path of the Anthropic model presets; use :mod:`llmgine.llm.models`."""

from llmgine.llm.models.presets import Claude35Haiku

__all__ = ["Claude35Haiku"]
