"""Seed import path of the tool events; use :mod:`llmgine.llm.tools`."""

from llmgine.llm.tools.events import (
    ToolCompiledEvent,
    ToolExecuteResultEvent,
    ToolManagerEvent,
    ToolRegisterEvent,
)

__all__ = ["ToolCompiledEvent", "ToolExecuteResultEvent", "ToolManagerEvent", "ToolRegisterEvent"]
