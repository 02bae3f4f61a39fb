"""The outcome of one tool call, as the model will read it."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

__all__ = ["RecordedResult", "ToolResult", "result_text"]


def result_text(value: Any) -> str:
    """The text a model reads for a tool's return value.

    Strings as they are; pydantic models, dataclasses, dicts and lists as
    JSON; ``None`` as ``"null"``; anything else through ``str()``.
    """
    if isinstance(value, str):
        return value
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
    """

    tool_call_id: str
    name: str
    content: str
    is_error: bool = False
    value: Any = None
    duration_s: float = 0.0

    def to_message(self) -> dict[str, Any]:
        """The result as an OpenAI-format ``tool`` message, ready for the context."""
        return {"role": "tool", "tool_call_id": self.tool_call_id, "content": self.content}


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
