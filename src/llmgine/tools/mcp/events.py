"""The event of an MCP server's life: connected, stopped, restarted, tools changed."""

from __future__ import annotations

from dataclasses import field

from llmgine.tools.events import ToolManagerEvent

__all__ = ["MCPServerStatusEvent"]


class MCPServerStatusEvent(ToolManagerEvent, kw_only=True):
    """An MCP server a ToolManager offers tools from changed state.

    Statuses: ``"connected"`` (first start), ``"disconnected"`` (a call found
    it gone: crashed, killed, connection lost), ``"restarted"`` (started again
    for the next call), ``"failed"`` (it could not be started or restarted),
    ``"tools_changed"`` (its tool list changed and was fetched again) and
    ``"closed"``.

    Attributes:
        server: The server's name.
        status: One of the statuses above.
        detail: Why, for a person: the error, the command or URL (secrets masked).
        tools: The names of its tools the manager offers now.
    """

    server: str = ""
    status: str = ""
    detail: str = ""
    tools: list[str] = field(default_factory=list)
