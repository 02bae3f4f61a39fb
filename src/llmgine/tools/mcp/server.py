"""``MCPServer``: an MCP server whose tools are offered next to ``@tool`` functions.

Give one wherever tools go: ``ToolChatEngine(tools=[get_weather,
MCPServer.stdio("python", ["weather_server.py"])])``,
``use_tool_chat_engine(..., tools=[...])`` or ``await
tool_manager.add_mcp_server(server)``. Its tools then run through the
ToolManager like functions do (argument validation, timeouts, approvals,
concurrency caps, events).

The server is started (or connected to) when it is first added, its tool list
is fetched once and fetched again only when the server says it changed. A
server that crashed or dropped the connection is restarted on the next call,
with an :class:`~llmgine.tools.mcp.MCPServerStatusEvent`; the call that found
it gone gets an error result the model can read. Close it with
``await server.close()`` (a ToolManager closes the servers it started).
"""

from __future__ import annotations

import asyncio
import importlib.util
import os
import shlex
from collections.abc import Awaitable, Callable, Collection, Mapping, Sequence
from typing import Any, Literal
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit, urlunsplit

from llmgine.errors import ConfigurationError, MCPServerError, ToolCallError
from llmgine.observability.redaction import Redactor, is_secret_key
from llmgine.tools.mcp.connection import (
    MISSING_EXTRA,
    CallRejected,
    CallTimedOut,
    ConnectionLost,
    MCPConnection,
    TransportSpec,
)

__all__ = ["MCPServer", "StatusListener"]

#: Called with (server, status, detail) on every change of state; see MCPServerStatusEvent.
StatusListener = Callable[["MCPServer", str, str], Awaitable[None]]


class MCPServer:
    """An MCP server (a subprocess over stdio, a URL, or an SDK server in this process).

    Build one with :meth:`stdio`, :meth:`http` or :meth:`in_process`.

    Args:
        spec: Where the server is.
        name: Its name in ``/tools``, events and errors (default: the prefix,
            else the name the server reports, else the command or host).
        prefix: Offer its tools as ``{prefix}_{name}`` (sanitised to what
            providers accept); None keeps the server's names.
        timeout: Seconds each request may take (a call, a listing); a hung
            server gives an error result, never a hung turn.
        connect_timeout: Seconds starting and the handshake may take (default:
            ``timeout``, and at least 30: a stdio server's start takes seconds).
        requires_approval: Which of its tools ask for approval: True, False,
            or a collection of the server's tool names. Default: those the
            server marks destructive (``destructiveHint``).
    """

    def __init__(
        self,
        spec: TransportSpec,
        *,
        name: str | None = None,
        prefix: str | None = None,
        timeout: float = 30.0,
        connect_timeout: float | None = None,
        requires_approval: bool | Collection[str] | None = None,
    ) -> None:
        if importlib.util.find_spec("mcp") is None:
            raise ConfigurationError(MISSING_EXTRA)
        if not timeout or timeout <= 0:
            raise ConfigurationError(
                f"an MCP server's timeout must be a positive number, not {timeout!r}"
            )
        if prefix is not None and not prefix.strip():
            raise ConfigurationError("an MCP server's prefix cannot be empty; give None for none")
        self.spec = spec
        self.prefix = prefix
        self.timeout = float(timeout)
        self.connect_timeout = float(connect_timeout or max(timeout, 30.0))
        self.requires_approval = requires_approval
        self._named = name or prefix
        self.name = self._named or _default_name(spec)
        self._connection: MCPConnection | None = None
        self._listing: list[Any] | None = None
        self._listeners: list[StatusListener] = []
        self._lock: asyncio.Lock | None = None
        self._closed = False
        self._down: str | None = None  # why the last connection was lost
        # What it is given (env values, headers, the URL's credentials and query values) never
        # reaches a model, an event, a log line or an error: a key's name need not say it is one.
        self._redactor = Redactor(_secrets_of(spec))

    def mask(self, text: str) -> str:
        """``text`` with this server's secrets (and any credential-looking text) masked."""
        return self._redactor.redact_text(text)

    # -- construction -------------------------------------------------------------

    @classmethod
    def stdio(
        cls,
        command: str,
        args: Sequence[str] = (),
        env: Mapping[str, str] | None = None,
        cwd: str | os.PathLike[str] | None = None,
        prefix: str | None = None,
        timeout: float = 30.0,
        *,
        name: str | None = None,
        connect_timeout: float | None = None,
        requires_approval: bool | Collection[str] | None = None,
    ) -> MCPServer:
        """A server started as ``command args...``, spoken to over its stdin and stdout.

        The process gets only a safe part of this environment (HOME, PATH,
        USER, SHELL, TERM, LOGNAME: the SDK's rule); pass what else it needs,
        such as API keys or ``PYTHONPATH``, in ``env``. Its stderr goes to the
        ``llmgine.mcp.<name>`` logger.
        """
        if not isinstance(command, str) or not command.strip():
            raise ConfigurationError("an MCP stdio server needs a command, e.g. 'python'")
        if isinstance(args, str):
            raise ConfigurationError(
                f"args of MCP server {command!r} must be a list of strings, not the string "
                f"{args!r}; write args=[...] (or shlex.split it)"
            )
        spec = TransportSpec(
            "stdio",
            command=command,
            args=tuple(str(arg) for arg in args),
            env={str(k): str(v) for k, v in env.items()} if env else None,
            cwd=os.fspath(cwd) if cwd is not None else None,
        )
        return cls(
            spec,
            name=name,
            prefix=prefix,
            timeout=timeout,
            connect_timeout=connect_timeout,
            requires_approval=requires_approval,
        )

    @classmethod
    def http(
        cls,
        url: str,
        headers: Mapping[str, str] | None = None,
        prefix: str | None = None,
        timeout: float = 30.0,
        *,
        name: str | None = None,
        connect_timeout: float | None = None,
        requires_approval: bool | Collection[str] | None = None,
    ) -> MCPServer:
        """A server at ``url``, over streamable HTTP (``headers`` go with every request)."""
        parts = urlsplit(url) if isinstance(url, str) else None
        if parts is None or parts.scheme not in ("http", "https") or not parts.netloc:
            raise ConfigurationError(
                f"{url!r} is not an MCP server URL; give http(s)://host:port/path, "
                "e.g. http://127.0.0.1:8000/mcp"
            )
        spec = TransportSpec(
            "http", url=url, headers={str(k): str(v) for k, v in (headers or {}).items()}
        )
        return cls(
            spec,
            name=name,
            prefix=prefix,
            timeout=timeout,
            connect_timeout=connect_timeout,
            requires_approval=requires_approval,
        )

    @classmethod
    def in_process(
        cls,
        server: Any,
        prefix: str | None = None,
        timeout: float = 30.0,
        *,
        name: str | None = None,
        requires_approval: bool | Collection[str] | None = None,
    ) -> MCPServer:
        """An SDK server object in this process, called directly without a transport.

        ``server`` is an ``mcp.server.mcpserver.MCPServer`` or a low-level ``Server``.
        """
        return cls(
            TransportSpec("in-process", server=server),
            name=name,
            prefix=prefix,
            timeout=timeout,
            requires_approval=requires_approval,
        )

    # -- description ----------------------------------------------------------------

    @property
    def transport(self) -> Literal["stdio", "http", "in-process"]:
        """How it is reached."""
        return self.spec.kind

    @property
    def target(self) -> str:
        """The command line or URL (without user:password, secrets masked), for people."""
        spec = self.spec
        if spec.kind == "stdio":
            return self.mask(shlex.join([spec.command, *spec.args]))
        if spec.kind == "http":
            parts = urlsplit(spec.url)
            query = urlencode([(key, "***") for key, _ in parse_qsl(parts.query)], safe="*")
            bare = parts._replace(netloc=parts.netloc.rpartition("@")[2], query=query)
            return self.mask(urlunsplit(bare))
        return f"in-process {type(spec.server).__name__}"

    @property
    def connected(self) -> bool:
        """Whether a connection is open now."""
        return self._connection is not None and self._connection.alive

    def __repr__(self) -> str:
        return f"MCPServer({self.name!r}, {self.transport}: {self.target})"

    # -- listeners -----------------------------------------------------------------

    def add_listener(self, listener: StatusListener) -> None:
        """Call ``listener(server, status, detail)`` on each change of state."""
        if listener not in self._listeners:
            self._listeners.append(listener)

    def remove_listener(self, listener: StatusListener) -> None:
        """Stop calling ``listener``."""
        if listener in self._listeners:
            self._listeners.remove(listener)

    async def _notify(self, status: str, detail: str = "") -> None:
        for listener in list(self._listeners):
            await listener(self, status, detail)

    # -- lifecycle -----------------------------------------------------------------

    def _guard(self) -> asyncio.Lock:
        if self._lock is None:
            self._lock = asyncio.Lock()
        return self._lock

    async def connect(self) -> None:
        """Start the server (or connect to it) and fetch its tool list; nothing if open.

        Raises:
            MCPServerError: it could not be started or reached; the message says why.
            ConfigurationError: the ``mcp`` extra is not installed.
        """
        async with self._guard():
            if self.connected:
                return
            restarting = self._down is not None
            failure: str | None = None
            try:
                await self._start()
            except MCPServerError as exc:
                failure = self.mask(str(exc))
        if failure is not None:
            await self._notify("failed", failure)
            raise MCPServerError(failure)
        await self._notify("restarted" if restarting else "connected", self.summary)

    async def _start(self) -> None:
        """Open a new connection and fetch the listing (the caller holds the lock)."""
        if self._connection is not None:
            await self._connection.stop()
            self._connection = None
        connection = MCPConnection(
            self.name,
            self.spec,
            self.timeout,
            self._tools_changed,
            label=self.target,
            mask=self.mask,
        )
        await connection.start(self.connect_timeout)
        try:
            listing = await connection.list_tools()
        except (ConnectionLost, CallTimedOut, CallRejected) as exc:
            await connection.stop()
            raise MCPServerError(
                f"MCP server {self.name} started but did not list its tools: {exc}"
            ) from exc
        if not self._named and connection.server_name:
            self.name = self._named = connection.server_name
            connection.name = self.name
        self._connection, self._listing = connection, listing
        self._closed, self._down = False, None

    async def close(self) -> None:
        """Close the connection (a stdio server's process ends); calls fail until ``connect()``."""
        async with self._guard():
            connection, self._connection = self._connection, None
            self._closed = True
            if connection is not None:
                await connection.stop()
        if connection is not None:
            await self._notify("closed", self.target)

    async def __aenter__(self) -> MCPServer:
        await self.connect()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    # -- tools ---------------------------------------------------------------------

    async def list_tools(self, *, refresh: bool = False) -> list[Any]:
        """The server's tools (the SDK's ``Tool`` objects), fetched once and cached.

        The cache is replaced when the server says its tools changed, and
        after a restart; ``refresh=True`` fetches them now.

        Raises:
            MCPServerError: the server could not be started, or did not answer.
        """
        if self._listing is None or not self.connected:
            await self.connect()
        elif refresh:
            assert self._connection is not None
            await self._refetch(self._connection)
        return list(self._listing or [])

    async def _refetch(self, connection: MCPConnection) -> None:
        try:
            listing = await connection.list_tools()
        except (ConnectionLost, CallTimedOut, CallRejected) as exc:
            raise MCPServerError(f"MCP server {self.name} did not list its tools: {exc}") from exc
        if connection is self._connection:
            self._listing = listing

    async def _tools_changed(self, connection: MCPConnection) -> None:
        await self._refetch(connection)
        await self._notify("tools_changed", self.summary)

    @property
    def summary(self) -> str:
        """The command or URL and how many tools it has, for people."""
        count = len(self._listing or [])
        return f"{self.target} ({count} tool{'s' if count != 1 else ''})"

    async def call_tool(
        self, name: str, arguments: dict[str, Any] | None = None, *, limit: float | None = None
    ) -> Any:
        """Call the server's tool ``name``; the SDK's ``CallToolResult``.

        A server found stopped is restarted first (a status event says so).

        Raises:
            ToolCallError: the call could not be made or answered: a timeout,
                the server gone (it is restarted for the next call), closed, or
                unable to start; the message is for the model.
        """
        seconds = limit or self.timeout
        connection = await self._live(name)
        try:
            return await connection.call_tool(name, dict(arguments or {}), seconds)
        except CallTimedOut:
            raise ToolCallError(
                f"Error: the MCP server {self.name} did not answer {name} within {seconds:g} s."
            ) from None
        except CallRejected as exc:
            raise ToolCallError(
                self.mask(f"Error: the MCP server {self.name} refused {name}: {exc}")
            ) from None
        except ConnectionLost as exc:
            if self._closed:  # closed by its owner while the call ran: nothing to restart
                raise ToolCallError(
                    f"Error: the MCP server {self.name} was closed during the call to {name}."
                ) from None
            reason = self.mask(str(exc))
            await self._lost(connection, reason)
            raise ToolCallError(
                f"Error: the MCP server {self.name} stopped during the call to {name} "
                f"({reason}); it will be restarted for the next call, so calling again may work."
            ) from None

    async def _live(self, tool_name: str) -> MCPConnection:
        """The open connection, restarting a server that was lost."""
        connection = self._connection
        if connection is not None and connection.alive:
            return connection
        if self._closed:
            raise ToolCallError(
                f"Error: the MCP server {self.name} is closed, so {tool_name} cannot run."
            )
        if connection is not None:  # the owner task ended by itself: the server went away
            await self._lost(connection, self.mask(connection_failure(connection)))
        try:
            await self.connect()
        except MCPServerError as exc:
            raise ToolCallError(f"Error: {exc}; {tool_name} was not run.") from None
        assert self._connection is not None
        return self._connection

    async def _lost(self, connection: MCPConnection, reason: str) -> None:
        async with self._guard():
            if self._connection is not connection:
                return  # another call saw it first
            self._connection = None
            self._down = reason
            await connection.stop()
        await self._notify("disconnected", f"{reason}; it is restarted on the next call")


def connection_failure(connection: MCPConnection) -> str:
    """Why a connection ended by itself."""
    failure = connection.failure
    if failure:
        return str(failure)
    return "its process exited" if connection.exited else "the connection ended"


def _default_name(spec: TransportSpec) -> str:
    if spec.kind == "stdio":
        scripts = [a for a in spec.args if not a.startswith("-")]  # the script or package
        base = os.path.basename((scripts[0] if scripts else spec.command).rstrip("/"))
        return os.path.splitext(base)[0] or spec.command
    if spec.kind == "http":
        return urlsplit(spec.url).hostname or "mcp"
    return str(getattr(spec.server, "name", None) or "mcp")


#: Environment variables whose values are not secrets (and are too common to mask).
_PLAIN_ENV = frozenset(
    {"PATH", "HOME", "USER", "LOGNAME", "SHELL", "TERM", "LANG", "TZ", "PWD", "PYTHONPATH"}
)
#: Headers whose values are not secrets.
_PLAIN_HEADERS = frozenset({"accept", "content-type", "user-agent", "accept-language"})
_SHORTEST_SECRET = 8  # shorter values ("1", "true", "prod") would mask common words


def _secrets_of(spec: TransportSpec) -> list[str]:
    """The values given to a server that may be secrets, whatever their names."""
    values = [
        value
        for key, value in (spec.env or {}).items()
        if key.upper() not in _PLAIN_ENV and not key.upper().startswith("LC_")
    ]
    values += [
        value for key, value in (spec.headers or {}).items() if key.lower() not in _PLAIN_HEADERS
    ]
    if spec.kind == "http" and spec.url:
        parts = urlsplit(spec.url)
        values += [value for _, value in parse_qsl(parts.query)]
        if parts.password:
            values.append(unquote(parts.password))
    named = [
        value
        for key, value in {**(spec.env or {}), **(spec.headers or {})}.items()
        if is_secret_key(key)
    ]
    found = [v for v in values if len(v) >= _SHORTEST_SECRET] + [v for v in named if v]
    return list(dict.fromkeys(found))
