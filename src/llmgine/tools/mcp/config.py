"""MCP servers from text: a command line (``--mcp``) or an ``mcpServers`` JSON file.

The file format is the one other MCP clients read::

    {"mcpServers": {
        "weather": {"command": "python", "args": ["weather_server.py"],
                    "env": {"WEATHER_KEY": "${WEATHER_KEY}"}},
        "docs": {"url": "http://127.0.0.1:8000/mcp",
                 "headers": {"Authorization": "Bearer ${DOCS_TOKEN:-none}"}}
    }}

Each entry's key is the server's name. ``${VAR}`` and ``${VAR:-default}`` in
any string are replaced from the environment (an unset variable without a
default is an error naming it). Entries may also set ``cwd``, ``prefix``,
``timeout`` and ``"disabled": true``.
"""

from __future__ import annotations

import json
import os
import re
import shlex
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from llmgine.errors import ConfigurationError
from llmgine.tools.mcp.server import MCPServer

__all__ = ["load_mcp_config", "parse_mcp_command"]

_VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
_ASSIGNMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")
_HTTP_TYPES = {"http", "streamable-http", "streamable_http", "streamablehttp"}


def parse_mcp_command(text: str, *, timeout: float = 30.0) -> MCPServer:
    """A stdio :class:`MCPServer` from a command line such as ``"python weather_server.py"``.

    Leading ``NAME=value`` words set environment variables for the server,
    as in a shell (``"WEATHER_KEY=abc python weather_server.py"``).

    Raises:
        ConfigurationError: the text is empty or not a valid command line.
    """
    try:
        words = shlex.split(text)
    except ValueError as exc:
        raise ConfigurationError(f"--mcp {text!r} is not a valid command line: {exc}") from exc
    env: dict[str, str] = {}
    while words and _ASSIGNMENT.match(words[0]):
        key, _, value = words.pop(0).partition("=")
        env[key] = value
    if not words:
        raise ConfigurationError(
            f"--mcp {text!r} has no command; give the command that starts the server, "
            'e.g. --mcp "python weather_server.py"'
        )
    return MCPServer.stdio(words[0], words[1:], env=env or None, timeout=timeout)


def load_mcp_config(path: str | os.PathLike[str]) -> list[MCPServer]:
    """The servers of an ``{"mcpServers": {...}}`` JSON file, in the file's order.

    Raises:
        ConfigurationError: the file is missing or not such JSON, an entry has
            neither ``command`` nor ``url``, or a ``${VAR}`` is not set; the
            message names the file, the server and the fix.
    """
    file = Path(path)
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigurationError(f"MCP config {file} does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigurationError(f"cannot read MCP config {file}: {exc}") from exc
    except json.JSONDecodeError as exc:
        raise ConfigurationError(
            f"MCP config {file} is not valid JSON ({exc.msg} at line {exc.lineno}, "
            f"column {exc.colno})"
        ) from exc
    entries = data.get("mcpServers") if isinstance(data, dict) else None
    if not isinstance(entries, dict):
        raise ConfigurationError(
            f'MCP config {file} has no "mcpServers" object; write '
            '{"mcpServers": {"name": {"command": ..., "args": [...]}}}'
        )
    servers = []
    for name, entry in entries.items():
        where = f"MCP config {file}, server {name!r}"
        if not isinstance(entry, dict):
            raise ConfigurationError(f"{where}: expected an object, got {type(entry).__name__}")
        if entry.get("disabled") is True:
            continue
        servers.append(_server(str(name), _expand(entry, where), where))
    return servers


def _server(name: str, entry: dict[str, Any], where: str) -> MCPServer:
    kind = str(entry.get("type") or entry.get("transport") or "").lower()
    timeout = _number(entry.get("timeout", 30.0), where)
    prefix = entry.get("prefix")
    if prefix is not None and not isinstance(prefix, str):
        raise ConfigurationError(f"{where}: prefix must be a string")
    if kind == "sse":
        raise ConfigurationError(
            f"{where}: the SSE transport is not supported (it is deprecated in MCP); "
            "use the server's streamable HTTP endpoint as url"
        )
    if "url" in entry and kind in ("", *_HTTP_TYPES):
        headers = entry.get("headers") or {}
        if not isinstance(headers, dict):
            raise ConfigurationError(f"{where}: headers must be an object of strings")
        return MCPServer.http(
            str(entry["url"]), headers=headers, prefix=prefix, timeout=timeout, name=name
        )
    command = entry.get("command")
    if not isinstance(command, str) or not command.strip():
        raise ConfigurationError(
            f'{where}: give "command" (and "args") to start it, or "url" to connect to it'
        )
    args = entry.get("args") or []
    env = entry.get("env") or {}
    if not isinstance(args, list) or not isinstance(env, dict):
        raise ConfigurationError(f"{where}: args must be a list and env an object")
    cwd = entry.get("cwd")
    return MCPServer.stdio(
        command,
        [str(arg) for arg in args],
        env=env,
        cwd=str(cwd) if cwd else None,
        prefix=prefix,
        timeout=timeout,
        name=name,
    )


def _number(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise ConfigurationError(f"{where}: timeout must be a positive number of seconds")
    return float(value)


def _expand(value: Any, where: str, environ: Mapping[str, str] = os.environ) -> Any:
    """``value`` with ``${VAR}`` / ``${VAR:-default}`` replaced in every string."""
    if isinstance(value, str):

        def replace(match: re.Match[str]) -> str:
            variable, default = match.group(1), match.group(2)
            if variable in environ:
                return environ[variable]
            if default is not None:
                return default
            raise ConfigurationError(
                f"{where}: ${{{variable}}} is not set; export {variable}=... or write "
                f"${{{variable}:-default}}"
            )

        return _VARIABLE.sub(replace, value)
    if isinstance(value, list):
        return [_expand(item, where, environ) for item in value]
    if isinstance(value, dict):
        return {key: _expand(item, where, environ) for key, item in value.items()}
    return value
