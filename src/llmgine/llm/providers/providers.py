"""Seed import path of the ``Providers`` enum; use :mod:`llmgine.llm.providers`."""

from llmgine.llm.providers.catalog import Providers

__all__ = ["Providers"]
