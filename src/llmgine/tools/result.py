"""The outcome of one tool call, as the model will read it."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

__all__ = ["RecordedResult", "ToolOutput", "ToolResult", "result_text"]


@dataclass
class ToolOutput:
    """A tool's return value with the text for the model given explicitly.

    Return it from a tool (MCP tools do) to choose what the model reads and to
    add content parts a provider can take beyond text, such as images.

    Attributes:
        text: What every model reads; it must stand on its own (describe an
            image in it), as some providers take only text in tool results.
        parts: OpenAI-format content parts (``{"type": "text", ...}``,
            ``{"type": "image_url", ...}`` with a data URL) for providers that
            take them in tool results (Anthropic); None for text only.
        value: The raw value, kept in ``ToolResult.value``.
    """

    text: str
    parts: list[dict[str, Any]] | None = None
    value: Any = None


def result_text(value: Any) -> str:
    """The text a model reads for a tool's return value.

    Strings as they are; pydantic models, dataclasses, dicts and lists as
    JSON; ``None`` as ``"null"``; anything else through ``str()``.
    """
    if isinstance(value, str):
        return value
    if isinstance(value, ToolOutput):
        return value.text
    if value is None:
        return "null"
    dump = getattr(value, "model_dump_json", None)
    if callable(dump):
        try:
            return str(dump())
        except Exception:
            return str(value)
    from llmgine.messages.serialization import to_jsonable

    if isinstance(value, dict | list | tuple | set) or hasattr(value, "__dataclass_fields__"):
        return json.dumps(to_jsonable(value), ensure_ascii=False)
    return str(value)


@dataclass
class ToolResult:
    """One tool call's result.

    Attributes:
        tool_call_id: Id of the call it answers.
        name: The tool's name.
        content: The text for the model (an explanation when ``is_error``).
        is_error: True when the tool did not run or failed.
        value: The tool's raw return value (None on errors).
        duration_s: Seconds the call took.
        parts: Content parts beyond the text (images), from a :class:`ToolOutput`.
    """

    tool_call_id: str
    name: str
    content: str
    is_error: bool = False
    value: Any = None
    duration_s: float = 0.0
    parts: list[dict[str, Any]] | None = None

    @property
    def message_content(self) -> str | list[dict[str, Any]]:
        """The ``content`` of the result's ``tool`` message: the parts if any, else the text."""
        return self.parts if self.parts else self.content

    def to_message(self) -> dict[str, Any]:
        """The result as an OpenAI-format ``tool`` message, ready for the context."""
        return {"role": "tool", "tool_call_id": self.tool_call_id, "content": self.message_content}


@dataclass(frozen=True)
class RecordedResult:
    """A tool call's outcome as a log recorded it (what a replay answers with).

    Attributes:
        arguments: The arguments as the tool received them.
        content: The text the model read.
        is_error: Whether it was an error result.
        error_type: The recorded error's type, if the log has it.
    """

    arguments: Any
    content: str
    is_error: bool
    error_type: str | None = None
