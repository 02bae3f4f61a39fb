"""A real MCP server, built with the official SDK, for LLMgine's MCP tests.

Run it as ``python mcp_demo_server.py`` (stdio) or ``python mcp_demo_server.py
--http`` (streamable HTTP on a free port of 127.0.0.1, printed as ``PORT n`` on
stdout once it is bound); in-process tests import :func:`build_server`.
"""

from __future__ import annotations

import asyncio
import os
import socket
import sys

from mcp.server.mcpserver import Context, MCPServer
from mcp.types import ImageContent, TextContent, ToolAnnotations
from pydantic import BaseModel

#: A 1x1 PNG, base64.
PIXEL = (
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQ"
    "AAAABJRU5ErkJggg=="
)


class Sum(BaseModel):
    total: int


def build_server(log_level: str = "INFO", server_class: type[MCPServer] = MCPServer) -> MCPServer:
    server = server_class("demo", instructions="Test tools.", log_level=log_level)

    @server.tool()
    def add(a: int, b: int) -> Sum:
        """Add two integers."""
        return Sum(total=a + b)

    @server.tool()
    def echo(text: str) -> str:
        """Say the text back."""
        return text

    @server.tool()
    def boom() -> str:
        """Always fails."""
        raise RuntimeError("kaboom")

    @server.tool()
    async def slow(seconds: float) -> str:
        """Answer after some seconds."""
        print(f"slow started for {seconds:g} s", file=sys.stderr, flush=True)
        await asyncio.sleep(seconds)
        return "done"

    @server.tool()
    def pid() -> int:
        """The server's process id."""
        return os.getpid()

    @server.tool()
    def env(name: str) -> str:
        """An environment variable of the server."""
        return os.environ.get(name, "<unset>")

    @server.tool()
    def say_env(name: str) -> str:
        """Print an environment variable of the server to its stderr."""
        print(f"{name} is {os.environ.get(name, '<unset>')}", file=sys.stderr, flush=True)
        return "said"

    @server.tool(annotations=ToolAnnotations(destructive_hint=True))
    def destructive_delete(path: str) -> str:
        """Delete a file (pretend)."""
        return f"deleted {path}"

    @server.tool(annotations=ToolAnnotations(read_only_hint=True, destructive_hint=True))
    def peek(path: str) -> str:
        """Look at a file (marked read-only)."""
        return f"peeked at {path}"

    @server.tool()
    def picture() -> list[TextContent | ImageContent]:
        """A caption and a tiny image."""
        return [
            TextContent(type="text", text="a red pixel"),
            ImageContent(type="image", data=PIXEL, mime_type="image/png"),
        ]

    @server.tool()
    async def toggle_tools(ctx: Context) -> str:
        """Add the tool ``extra`` and tell clients the tool list changed."""

        def extra() -> str:
            """Added later."""
            return "extra"

        server.add_tool(extra)
        await ctx.notify_tools_changed()
        return "added"

    @server.tool()
    def header(name: str, ctx: Context) -> str:
        """A header of the HTTP request (or <none>)."""
        headers = ctx.headers or {}
        return str(headers.get(name.lower(), "<none>"))

    return server


def _serve_http(server: MCPServer) -> None:
    import anyio
    import uvicorn

    # Bound and listening before the port is printed: early clients wait in the backlog.
    listener = socket.create_server(("127.0.0.1", 0))
    print(f"PORT {listener.getsockname()[1]}", flush=True)
    app = server.streamable_http_app(host="127.0.0.1")
    uv = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
    anyio.run(lambda: uv.serve(sockets=[listener]))


if __name__ == "__main__":
    if "--http" in sys.argv:
        _serve_http(build_server("WARNING"))
    else:
        build_server().run()
