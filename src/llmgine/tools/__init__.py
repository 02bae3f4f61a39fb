"""Tools: functions a model can call, their schemas, formats and execution."""

from llmgine.tools.definition import Tool, ToolOptions, tool
from llmgine.tools.events import (
    ToolApprovalCommand,
    ToolCallStartedEvent,
    ToolExecuteResultEvent,
    ToolRegisterEvent,
)
from llmgine.tools.formats import format_tool, provider_format, to_anthropic, to_openai
from llmgine.tools.manager import ToolManager
from llmgine.tools.result import RecordedResult, ToolResult
from llmgine.tools.schema import build_tool, validate_arguments
from llmgine.tools.tool_call import ToolCall

__all__ = [
    "Tool",
    "ToolApprovalCommand",
    "ToolCall",
    "ToolCallStartedEvent",
    "ToolExecuteResultEvent",
    "ToolManager",
    "ToolOptions",
    "ToolRegisterEvent",
    "RecordedResult",
    "ToolResult",
    "build_tool",
    "format_tool",
    "provider_format",
    "to_anthropic",
    "to_openai",
    "tool",
    "validate_arguments",
]
