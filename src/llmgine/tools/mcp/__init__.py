"""MCP servers' tools next to ``@tool`` functions (the ``mcp`` extra: the official SDK).

:class:`MCPServer` is accepted wherever tools are. Nothing here imports the
SDK until a server is started, so ``import llmgine`` stays light.
"""

from llmgine.tools.mcp.config import load_mcp_config, parse_mcp_command
from llmgine.tools.mcp.events import MCPServerStatusEvent
from llmgine.tools.mcp.server import MCPServer

__all__ = ["MCPServer", "MCPServerStatusEvent", "load_mcp_config", "parse_mcp_command"]
