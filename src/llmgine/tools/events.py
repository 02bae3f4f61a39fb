"""Events and the approval command of the ToolManager."""

from __future__ import annotations

from dataclasses import field
from typing import Any

from llmgine.messages.commands import Command
from llmgine.messages.events import Event

__all__ = [
    "ToolApprovalCommand",
    "ToolCallStartedEvent",
    "ToolExecuteResultEvent",
    "ToolManagerEvent",
    "ToolRegisterEvent",
]


class ToolManagerEvent(Event, kw_only=True):
    """Base of the ToolManager's events.

    Attributes:
        tool_manager_id: Which manager published it.
        engine_id: The engine the manager belongs to.
    """

    tool_manager_id: str = ""
    engine_id: str = ""


class ToolRegisterEvent(ToolManagerEvent, kw_only=True):
    """A tool was registered: ``tool_info`` has its name, description and parameters."""

    tool_info: dict[str, Any] = field(default_factory=dict)


class ToolCallStartedEvent(ToolManagerEvent, kw_only=True):
    """A tool call is about to run: the parent of everything it causes and of its result.

    Attributes:
        tool_name: The tool called.
        tool_call_id: The model's id of the call.
        arguments: The arguments as the model sent them (a dict, or the raw
            text when they are not valid JSON).
    """

    tool_name: str = ""
    tool_call_id: str = ""
    arguments: Any = None


class ToolExecuteResultEvent(ToolManagerEvent, kw_only=True):
    """A tool call finished, or could not run: the one event of that fact.

    UIs show it (the CLI's tool panel), and the log keeps it whole.

    Attributes:
        tool_name: The tool called.
        tool_call_id: The model's id of the call.
        arguments: The arguments (a dict, or the raw text when it was not valid JSON).
        result: The text given back to the model (the error, when ``is_error``).
        is_error: True when the call did not run or failed.
        duration_s: Seconds it took.
        error_type: Why it failed, in a word fit for grouping: the exception's
            class when the tool raised (``"ValueError"``), else ``"unknown_tool"``,
            ``"invalid_arguments"``, ``"declined"``, ``"timeout"`` or
            ``"not_recorded"`` (a replay without this call); None on success.
        server: The MCP server the tool comes from (None for a function, or
            a tool the manager does not have).
    """

    tool_name: str = ""
    tool_call_id: str = ""
    arguments: Any = None
    result: str = ""
    is_error: bool = False
    duration_s: float = 0.0
    error_type: str | None = None
    server: str | None = None

    @property
    def success(self) -> bool:
        """False when the call did not run or failed."""
        return not self.is_error


class ToolApprovalCommand(Command, kw_only=True):
    """Asks whoever handles it whether a tool may run.

    The handler (the CLI's yes/no prompt, or your own) returns
    ``CommandResult(success=True, result=True)`` to allow the call;
    ``result=False`` (or a failed result) declines it.

    Attributes:
        tool_name: The tool about to run.
        arguments: Its validated arguments.
        tool_call_id: The model's id of the call.
        description: The tool's description, for the prompt.
    """

    tool_name: str = ""
    arguments: dict[str, Any] = field(default_factory=dict)
    tool_call_id: str = ""
    description: str = ""
