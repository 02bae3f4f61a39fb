"""Tools: functions and MCP servers' tools a model can call, their schemas, formats, execution."""

from llmgine.tools.definition import Tool, ToolOptions, tool
from llmgine.tools.events import (
    ToolApprovalCommand,
    ToolCallStartedEvent,
    ToolExecuteResultEvent,
    ToolRegisterEvent,
)
from llmgine.tools.formats import format_tool, provider_format, to_anthropic, to_openai
from llmgine.tools.manager import ToolManager
from llmgine.tools.mcp import MCPServer, MCPServerStatusEvent, load_mcp_config
from llmgine.tools.result import RecordedResult, ToolOutput, ToolResult
from llmgine.tools.schema import build_tool, validate_arguments
from llmgine.tools.tool_call import ToolCall

__all__ = [
    "MCPServer",
    "MCPServerStatusEvent",
    "Tool",
    "ToolApprovalCommand",
    "ToolCall",
    "ToolCallStartedEvent",
    "ToolExecuteResultEvent",
    "ToolManager",
    "ToolOptions",
    "ToolOutput",
    "ToolRegisterEvent",
    "RecordedResult",
    "ToolResult",
    "build_tool",
    "format_tool",
    "load_mcp_config",
    "provider_format",
    "to_anthropic",
    "to_openai",
    "tool",
    "validate_arguments",
]
