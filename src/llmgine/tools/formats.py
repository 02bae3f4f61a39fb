"""Tool definitions in the wire formats of the providers (OpenAI and Anthropic)."""

from __future__ import annotations

from typing import Any, Literal

from llmgine.tools.definition import Tool

__all__ = ["format_tool", "provider_format", "to_anthropic", "to_openai"]

ToolFormat = Literal["openai", "anthropic"]


def provider_format(llm_model_name: str | None) -> ToolFormat:
    """The tool format a model expects, from its ``"provider:model"`` name.

    Providers speaking Chat Completions (openai, openrouter, gemini, xai,
    deepseek, ollama, openai-compatible, test...) take ``"openai"``;
    ``"anthropic"`` (and the seed's ``"claude"``) take ``"anthropic"``. A bare
    ``"claude-..."`` model name is Anthropic's; anything else unknown, and
    None, is ``"openai"``.

    Args:
        llm_model_name: A provider (``"anthropic"``), a model string
            (``"anthropic:claude-3-5-haiku-latest"``) or a bare model name.
    """
    if not llm_model_name:
        return "openai"
    text = llm_model_name.strip().lower()
    provider, sep, _ = text.partition(":")
    if provider in ("anthropic", "claude"):
        return "anthropic"
    from llmgine.providers.catalog import PROVIDERS  # late: providers import tools

    spec = PROVIDERS.get(provider)
    if spec is not None:
        return "anthropic" if spec.wire == "anthropic" else "openai"
    return "anthropic" if text.startswith("claude") else "openai"


def to_openai(tool: Tool) -> dict[str, Any]:
    """The tool as an OpenAI Chat Completions function tool.

    ``"strict": true`` is set only when the schema fits strict mode
    (``tool.strict``); the parameters then close the top-level object.
    """
    parameters = tool.parameters
    function: dict[str, Any] = {"name": tool.name, "description": tool.description}
    if tool.strict:
        function["parameters"] = {**parameters, "additionalProperties": False}
        function["strict"] = True
    else:
        function["parameters"] = parameters
    return {"type": "function", "function": function}


def to_anthropic(tool: Tool) -> dict[str, Any]:
    """The tool as an Anthropic Messages tool: ``{"name", "description", "input_schema"}``."""
    return {"name": tool.name, "description": tool.description, "input_schema": tool.parameters}


def format_tool(tool: Tool, llm_model_name: str | None = None) -> dict[str, Any]:
    """The tool in the format the model ``llm_model_name`` expects (see :func:`provider_format`)."""
    if provider_format(llm_model_name) == "anthropic":
        return to_anthropic(tool)
    return to_openai(tool)
