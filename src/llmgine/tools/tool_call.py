"""A tool call requested by a model."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

__all__ = ["ToolCall"]


@dataclass
class ToolCall:
    """One function call a model asked for.

    Attributes:
        id: The provider's id of the call (tool results refer to it).
        name: The tool's name.
        arguments: The arguments as the model wrote them: a JSON string, which
            may be malformed (the ToolManager reports that back to the model).
        type: Always ``"function"`` (the OpenAI wire field).
    """

    id: str
    name: str = ""
    arguments: str = "{}"
    type: str = "function"

    def parsed_arguments(self) -> dict[str, Any]:
        """The arguments as a dict.

        Raises:
            ValueError: ``arguments`` is not a JSON object.
        """
        value = json.loads(self.arguments or "{}")
        if not isinstance(value, dict):
            raise ValueError(f"tool arguments must be a JSON object, got {type(value).__name__}")
        return value

    def to_dict(self) -> dict[str, Any]:
        """The call in the OpenAI chat format (an item of ``message["tool_calls"]``)."""
        return {
            "id": self.id,
            "type": self.type,
            "function": {"name": self.name, "arguments": self.arguments},
        }
