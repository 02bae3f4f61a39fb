"""Seed import path of the ToolManager; use :mod:`llmgine.llm.tools`."""

from llmgine.llm.tools.manager import ToolManager

__all__ = ["ToolManager"]
