"""LLMgine tools served as an MCP server (``llmgine mcp serve``).

The tools of a :class:`~llmgine.tools.ToolManager` are listed with the names,
descriptions and JSON schemas LLMgine builds for them, and each call runs
through the manager: arguments validated and coerced, timeouts, secrets masked
in the text. A tool that needs approval is marked destructive, so an MCP
client (LLMgine's own included) asks before running it; the server itself lets
the call run, as the asking is the client's.
"""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING, Any

from llmgine._version import __version__
from llmgine.errors import ConfigurationError
from llmgine.messages.serialization import to_jsonable
from llmgine.tools.mcp.connection import MISSING_EXTRA
from llmgine.tools.tool_call import ToolCall

if TYPE_CHECKING:
    from llmgine.tools.manager import ToolManager

__all__ = ["build_mcp_server", "serve_http", "serve_stdio"]


def build_mcp_server(manager: ToolManager, name: str = "llmgine") -> Any:
    """An SDK low-level ``Server`` offering ``manager``'s tools.

    Raises:
        ConfigurationError: the ``mcp`` extra is not installed.
    """
    try:
        from mcp import types
        from mcp.server import Server
    except ImportError as exc:
        raise ConfigurationError(MISSING_EXTRA) from exc

    def listed(tool: Any) -> Any:
        annotations = None
        if tool.options.requires_approval:
            annotations = types.ToolAnnotations(destructive_hint=True, read_only_hint=False)
        return types.Tool(
            name=tool.name,
            description=tool.description,
            input_schema=tool.parameters,
            annotations=annotations,
        )

    async def list_tools(_context: Any, _params: Any) -> Any:
        return types.ListToolsResult(tools=[listed(tool) for tool in manager.tools.values()])

    async def call_tool(context: Any, params: Any) -> Any:
        call = ToolCall(
            id=str(getattr(context, "request_id", "") or "mcp"),
            name=params.name,
            arguments=json.dumps(params.arguments or {}, ensure_ascii=False),
        )
        result = await manager.execute_tool_call(call)
        content: list[Any] = [types.TextContent(type="text", text=result.content)]
        for part in result.parts or []:
            image = _image(part)
            if image is not None:
                content.append(types.ImageContent(type="image", data=image[1], mime_type=image[0]))
        structured = None
        if not result.is_error:
            value = manager.redactor.redact(to_jsonable(result.value))  # masked, as the text is
            structured = value if isinstance(value, dict) else None
        return types.CallToolResult(
            content=content, structured_content=structured, is_error=result.is_error
        )

    def input_schema(tool_name: str) -> dict[str, Any] | None:
        tool = manager.tools.get(tool_name)
        return tool.parameters if tool is not None else None

    return Server(
        name,
        version=__version__,
        on_list_tools=list_tools,
        on_call_tool=call_tool,
        get_tool_input_schema=input_schema,
    )


def _image(part: dict[str, Any]) -> tuple[str, str] | None:
    """(mime type, base64 data) of an ``image_url`` part holding a base64 data URL."""
    if part.get("type") != "image_url":
        return None
    image = part.get("image_url")
    url = image.get("url") if isinstance(image, dict) else image
    if not isinstance(url, str) or not url.startswith("data:") or ";base64," not in url:
        return None
    header, data = url[5:].split(";base64,", 1)
    return header or "application/octet-stream", data


async def serve_stdio(server: Any) -> None:
    """Serve ``server`` on this process's stdin and stdout until stdin closes."""
    from mcp.server.stdio import stdio_server

    async with stdio_server() as (read, write):
        try:
            await server.run(read, write, server.create_initialization_options())
        finally:
            # While serving, file descriptor 1 points at stderr: what tools printed and is
            # still buffered goes there now, not onto the protocol's stream at exit.
            sys.stdout.flush()


async def serve_http(
    server: Any, host: str = "127.0.0.1", port: int = 8000, sockets: list[Any] | None = None
) -> None:
    """Serve ``server`` over streamable HTTP at ``http://host:port/mcp`` until stopped.

    ``sockets``: already listening sockets to serve on (a free port chosen by
    binding to port 0, say) instead of binding ``host:port``.
    """
    import uvicorn

    app = server.streamable_http_app(streamable_http_path="/mcp", host=host)
    config = uvicorn.Config(app, host=host, port=port, log_level="warning", lifespan="on")
    await uvicorn.Server(config).serve(sockets=sockets)
