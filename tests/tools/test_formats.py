"""Tool definitions in the OpenAI and Anthropic wire formats."""

from __future__ import annotations

import pytest

from llmgine.tools import build_tool, format_tool, provider_format, to_anthropic, to_openai


def add(a: int, b: int) -> int:
    """Add two numbers.

    Args:
        a: First number.
        b: Second number.
    """
    return a + b


def greet(name: str, greeting: str = "Hello") -> str:
    """Greet someone."""
    return f"{greeting}, {name}"


ADD_PARAMETERS = {
    "type": "object",
    "properties": {
        "a": {"type": "integer", "description": "First number."},
        "b": {"type": "integer", "description": "Second number."},
    },
    "required": ["a", "b"],
    "additionalProperties": False,
}
GREET_PARAMETERS = {
    "type": "object",
    "properties": {
        "name": {"type": "string"},
        "greeting": {"type": "string", "default": "Hello"},
    },
    "required": ["name"],
    "additionalProperties": False,
}


def test_openai_strict_tool() -> None:
    assert to_openai(build_tool(add)) == {
        "type": "function",
        "function": {
            "name": "add",
            "description": "Add two numbers.",
            "parameters": ADD_PARAMETERS,
            "strict": True,
        },
    }


def test_openai_non_strict_tool_has_no_strict_key() -> None:
    assert to_openai(build_tool(greet)) == {
        "type": "function",
        "function": {
            "name": "greet",
            "description": "Greet someone.",
            "parameters": GREET_PARAMETERS,
        },
    }


def test_openai_strict_closes_the_top_level_object() -> None:
    built = build_tool(add)
    built.parameters = {
        key: v for key, v in built.parameters.items() if key != "additionalProperties"
    }
    assert to_openai(built)["function"]["parameters"] == ADD_PARAMETERS
    assert "additionalProperties" not in built.parameters  # the tool itself is not changed


def test_anthropic_input_schema_at_top_level() -> None:
    assert to_anthropic(build_tool(greet)) == {
        "name": "greet",
        "description": "Greet someone.",
        "input_schema": GREET_PARAMETERS,
    }


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        (None, "openai"),
        ("", "openai"),
        ("openai", "openai"),
        ("openai:gpt-4.1", "openai"),
        ("gpt-4.1-mini", "openai"),
        ("deepseek", "openai"),
        ("deepseek:deepseek-chat", "openai"),
        ("openrouter", "openai"),
        ("openrouter:anthropic/claude-3.5-haiku", "openai"),
        ("gemini", "openai"),
        ("xai:grok-3-mini", "openai"),
        ("ollama:llama3.2:8b", "openai"),
        ("openai-compatible:my-model@http://localhost:8000/v1", "openai"),
        ("test", "openai"),
        ("something-unknown", "openai"),
        ("anthropic", "anthropic"),
        ("Anthropic", "anthropic"),
        ("claude", "anthropic"),
        ("anthropic:claude-3-5-haiku-latest", "anthropic"),
        ("claude-3-5-haiku-latest", "anthropic"),
    ],
)
def test_provider_format(name: str | None, expected: str) -> None:
    assert provider_format(name) == expected


def test_format_tool_dispatches() -> None:
    built = build_tool(add)
    assert format_tool(built, "anthropic:claude-3-5-haiku-latest") == to_anthropic(built)
    assert format_tool(built, "openai:gpt-4.1") == to_openai(built)
    assert format_tool(built) == to_openai(built)
