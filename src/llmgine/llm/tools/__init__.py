"""Tools: functions a model can call, their schemas, formats and execution."""

from llmgine.llm.tools.definition import Tool, ToolOptions, tool
from llmgine.llm.tools.events import (
    ToolApprovalCommand,
    ToolCompiledEvent,
    ToolExecuteResultEvent,
    ToolRegisterEvent,
)
from llmgine.llm.tools.formats import format_tool, provider_format, to_anthropic, to_openai
from llmgine.llm.tools.manager import ToolManager
from llmgine.llm.tools.result import ToolResult
from llmgine.llm.tools.schema import build_tool, validate_arguments
from llmgine.llm.tools.tool_call import ToolCall

__all__ = [
    "Tool",
    "ToolApprovalCommand",
    "ToolCall",
    "ToolCompiledEvent",
    "ToolExecuteResultEvent",
    "ToolManager",
    "ToolOptions",
    "ToolRegisterEvent",
    "ToolResult",
    "build_tool",
    "format_tool",
    "provider_format",
    "to_anthropic",
    "to_openai",
    "tool",
    "validate_arguments",
]
