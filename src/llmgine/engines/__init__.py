"""Engines: command handlers that drive models (single-pass, tool-chat, consortium).

Names are imported lazily, so ``python -m llmgine.engines.tool_chat_engine``
runs the module once (no runpy warning about a module imported twice).
"""

from importlib import import_module
from typing import Any

_EXPORTS = {
    "Engine": "base",
    "UsageTotals": "base",
    "default_model": "defaults",
    "FINISHED": "messages",
    "EngineCommand": "messages",
    "EngineStatusEvent": "messages",
    "EngineTextDeltaEvent": "messages",
    "EngineThinkingDeltaEvent": "messages",
    "SinglePassEngine": "single_pass_engine",
    "SinglePassEngineCommand": "single_pass_engine",
    "SinglePassEngineStatusEvent": "single_pass_engine",
    "use_single_pass_engine": "single_pass_engine",
    "ToolChatEngine": "tool_chat_engine",
    "ToolChatEngineCommand": "tool_chat_engine",
    "ToolChatEngineStatusEvent": "tool_chat_engine",
    "use_tool_chat_engine": "tool_chat_engine",
    "ConsortiumEngine": "consortium",
    "ConsortiumEngineCommand": "consortium",
    "ConsortiumEngineStatusEvent": "consortium",
    "use_consortium_engine": "consortium",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'llmgine.engines' has no attribute {name!r}")
    value = getattr(import_module(f"llmgine.engines.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])
