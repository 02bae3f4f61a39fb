"""MCP on the command line: ``--mcp``/``--mcp-url``/``--mcp-config``, and ``llmgine mcp serve``.

``llmgine chat --mcp "python weather_server.py"`` offers an MCP server's tools
next to ``--tools`` functions; ``llmgine mcp serve tools/weather.py`` serves
a file's ``@tool`` functions to any MCP client (stdio by default, or
streamable HTTP with ``--http PORT``).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import socket
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from llmgine._version import __version__
from llmgine.bus.interface import Bus
from llmgine.errors import ConfigurationError, LLMgineError
from llmgine.tools.manager import ToolManager
from llmgine.tools.mcp import MCPServer, MCPServerStatusEvent, load_mcp_config, parse_mcp_command

__all__ = [
    "SERVE_DESCRIPTION",
    "add_mcp_options",
    "add_serve_arguments",
    "mcp_servers",
    "serve_command",
    "status_line",
    "watch_mcp_status",
]

SERVE_DESCRIPTION = (
    "Serve the @tool functions of a file, folder or module as an MCP server "
    "(stdio by default), with the names, descriptions and schemas LLMgine builds."
)


def add_mcp_options(parser: argparse.ArgumentParser) -> None:
    """The options that offer MCP servers' tools (engines with tools)."""
    parser.add_argument(
        "--mcp",
        action="append",
        default=[],
        metavar='"COMMAND ARGS"',
        help='an MCP server to start and use over stdio (repeatable), e.g. --mcp "python '
        'weather_server.py"; leading NAME=value words set its environment',
    )
    parser.add_argument(
        "--mcp-url",
        action="append",
        default=[],
        metavar="URL",
        help="an MCP server to use over streamable HTTP (repeatable), e.g. "
        "http://127.0.0.1:8000/mcp",
    )
    parser.add_argument(
        "--mcp-config",
        action="append",
        default=[],
        metavar="FILE",
        help='MCP servers from a JSON file in the {"mcpServers": {...}} format other MCP '
        "clients use (repeatable)",
    )


def mcp_servers(args: argparse.Namespace) -> list[MCPServer]:
    """The MCP servers the command line names (none started yet).

    Raises:
        ConfigurationError: a command, URL or config file is unusable.
    """
    servers = [parse_mcp_command(text) for text in getattr(args, "mcp", None) or []]
    servers += [MCPServer.http(url) for url in getattr(args, "mcp_url", None) or []]
    for file in getattr(args, "mcp_config", None) or []:
        servers += load_mcp_config(file)
    return servers


def status_line(event: MCPServerStatusEvent) -> str:
    """One line for a person about an MCP server's change of state."""
    detail = f": {event.detail}" if event.detail else ""
    return f"MCP server {event.server} {event.status.replace('_', ' ')}{detail}"


def watch_mcp_status(
    bus: Bus, session_id: str, show: Callable[[str], None], *, quiet: bool = False
) -> None:
    """Show MCP servers' status events with ``show`` (``quiet``: only the trouble)."""

    def on_status(event: MCPServerStatusEvent) -> None:
        if not quiet or event.status in ("disconnected", "restarted", "failed"):
            show(status_line(event))

    bus.register_event_handler(MCPServerStatusEvent, on_status, session_id=session_id)


# -- llmgine mcp serve -------------------------------------------------------------------


def add_serve_arguments(parser: argparse.ArgumentParser) -> None:
    """The arguments of ``llmgine mcp serve``."""
    parser.add_argument(
        "sources",
        nargs="+",
        metavar="FILE_OR_MODULE",
        help="@tool functions to serve: a .py file, a folder of them or a module path, "
        "e.g. tools/weather.py",
    )
    parser.add_argument(
        "--http",
        type=_port,
        metavar="PORT",
        help="serve over streamable HTTP at http://HOST:PORT/mcp instead of stdio "
        "(0: a free port, printed on stderr)",
    )
    parser.add_argument(
        "--host", default="127.0.0.1", help="address to listen on with --http (default: 127.0.0.1)"
    )
    parser.add_argument("--name", help="the server's name (default: from the first source)")
    parser.add_argument("--version", action="version", version=f"llmgine {__version__}")


def serve_command(args: argparse.Namespace) -> int:
    """Run ``llmgine mcp serve``; the exit code (2 for tools that cannot load)."""
    try:
        return asyncio.run(_serve(args))
    except KeyboardInterrupt:
        return 130
    except LLMgineError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


async def _serve(args: argparse.Namespace) -> int:
    from llmgine.tools.mcp.serve import build_mcp_server, serve_http, serve_stdio

    # Approvals are the MCP client's to ask for (such tools are listed as destructive).
    manager = ToolManager("mcp-serve", approve_when_unhandled="allow")
    with contextlib.redirect_stdout(sys.stderr):  # stdout is the protocol's, even at import
        await manager.register_tools(*args.sources)
    server = build_mcp_server(manager, name=args.name or _name(args.sources[0]))
    count = len(manager.tools)
    if args.http is None:
        await serve_stdio(server)  # the SDK sends stray prints to stderr while it serves
        return 0
    listener = _listen(args.host, args.http)
    host, port = listener.getsockname()[:2]
    print(
        f"llmgine mcp serve: {count} tool{'s' if count != 1 else ''} at http://{host}:{port}/mcp",
        file=sys.stderr,
        flush=True,
    )
    await serve_http(server, host, port, sockets=[listener])
    return 0


def _port(text: str) -> int:
    """A TCP port number (argparse says so in one line when it is not)."""
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {text!r}") from None
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"a port is 0-65535, not {port}")
    return port


def _listen(host: str, port: int) -> socket.socket:
    try:
        return socket.create_server((host, port))
    except OSError as exc:
        raise ConfigurationError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from exc


def _name(source: Any) -> str:
    text = str(source).rstrip("/")
    return Path(text).stem if text.endswith(".py") or "/" in text else text.rpartition(".")[2]
