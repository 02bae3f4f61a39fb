"""Events and the approval command of the ToolManager."""

from __future__ import annotations

from dataclasses import field
from typing import Any

from llmgine.messages.commands import Command
from llmgine.messages.events import Event

__all__ = [
    "ToolApprovalCommand",
    "ToolCompiledEvent",
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


class ToolCompiledEvent(ToolManagerEvent, kw_only=True):
    """The tools were formatted for a model (``tool_compiled_list``, in its format)."""

    tool_compiled_list: list[dict[str, Any]] = field(default_factory=list)


class ToolExecuteResultEvent(ToolManagerEvent, kw_only=True):
    """A tool call finished (or could not run).

    Attributes:
        tool_name: The tool called.
        tool_call_id: The model's id of the call.
        arguments: The arguments (a dict, or the raw text when it was not valid JSON).
        success: False when the call did not run or raised.
        duration_s: Seconds it took.
        result_preview: The start of the text given to the model.
        error: What went wrong, when ``success`` is False.
    """

    tool_name: str = ""
    tool_call_id: str = ""
    arguments: Any = None
    success: bool = False
    duration_s: float = 0.0
    result_preview: str = ""
    error: str | None = None


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
