"""One live connection to an MCP server, owned by one task.

The SDK's transports run inside anyio cancel scopes, which must be exited by
the task that entered them; a client closed from another task fails with
"Attempted to exit cancel scope in a different task". So each connection has
an *owner task* that opens the client, waits for a stop signal and closes it,
while any task may send requests through it concurrently. Stopping is
signalling the owner and awaiting it, which is clean from any task.

The ``mcp`` SDK is imported inside the owner task only, when a connection is
first made.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any, Literal

from llmgine._version import __version__
from llmgine.errors import ConfigurationError, MCPServerError
from llmgine.observability.redaction import default_redactor
from llmgine.tools.mcp.stderr import StderrPump

__all__ = [
    "CallRejected",
    "CallTimedOut",
    "ConnectionLost",
    "MCPConnection",
    "MISSING_EXTRA",
    "TransportSpec",
]

logger = logging.getLogger("llmgine.mcp")


class _SDKLog(logging.Handler):
    """The MCP SDK's client log records, as one line each in ``llmgine.mcp.sdk`` (INFO).

    The SDK logs a server's stray stdout line (not JSON-RPC) or an HTTP
    error at ERROR, with a traceback; on a terminal that would cover the
    CLI's screen for something the call's own error already says.
    """

    def emit(self, record: logging.LogRecord) -> None:
        text = record.getMessage()
        error = record.exc_info[1] if record.exc_info else None
        if error is not None:
            text += f" ({type(error).__name__}: {' '.join(str(error).split())[:300]})"
        logging.getLogger("llmgine.mcp.sdk").info("%s", default_redactor().redact_text(text))


def _route_sdk_logs() -> None:
    """Send the SDK client's log records to :class:`_SDKLog` (once)."""
    sdk = logging.getLogger("mcp.client")
    if not any(isinstance(handler, _SDKLog) for handler in sdk.handlers):
        sdk.addHandler(_SDKLog())
        sdk.propagate = False


_route_sdk_logs()

MISSING_EXTRA = (
    'MCP servers need the "mcp" extra: pip install -e ".[mcp]" in your LLMgine checkout '
    '(from your project: pip install -e "../llmgine[mcp]")'
)

#: Pages of a tool listing followed at most (a paginator that never ends cannot hang a start).
_MAX_PAGES = 100
#: Seconds the owner task gets to close the connection (stdio: stdin closed, then
#: SIGTERM, then SIGKILL, 2 s apart in the SDK) before it is cancelled.
_STOP_GRACE = 10.0


class ConnectionLost(Exception):
    """The server went away (process exited, connection closed); ``str()`` says how."""


class CallTimedOut(Exception):
    """The server did not answer within the read timeout."""


class CallRejected(Exception):
    """The server answered the request with a protocol error; ``str()`` is its message."""


class TransportSpec:
    """How to reach a server: a subprocess over stdio, a URL, or an in-process SDK server."""

    def __init__(
        self,
        kind: Literal["stdio", "http", "in-process"],
        *,
        command: str = "",
        args: tuple[str, ...] = (),
        env: dict[str, str] | None = None,
        cwd: str | None = None,
        url: str = "",
        headers: dict[str, str] | None = None,
        server: Any = None,
    ) -> None:
        self.kind = kind
        self.command = command
        self.args = args
        self.env = env
        self.cwd = cwd
        self.url = url
        self.headers = headers
        self.server = server


class MCPConnection:
    """A connection to one MCP server, opened and closed by its own owner task.

    Args:
        name: The server's name (its log and task names).
        spec: Where the server is.
        timeout: Read timeout of every request, in seconds.
        on_tools_changed: Awaited (in the owner's task group) after the server
            says its tool list changed.
        label: The command or URL, secrets masked, for error messages.
        mask: Masks the server's secrets in what it writes to stderr (logged).
    """

    def __init__(
        self,
        name: str,
        spec: TransportSpec,
        timeout: float,
        on_tools_changed: Callable[[MCPConnection], Awaitable[None]] | None = None,
        label: str = "",
        mask: Callable[[str], str] | None = None,
    ) -> None:
        self.name = name
        self.mask = mask
        self.label = label
        self.spec = spec
        self.timeout = timeout
        self.connect_timeout = timeout
        self.on_tools_changed = on_tools_changed
        self.client: Any = None
        self.server_name: str | None = None
        self.failure: BaseException | None = None
        self._ready = asyncio.Event()
        self._stop = asyncio.Event()
        self._changed = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._helpers: set[asyncio.Task[Any]] = set()
        self._pump: StderrPump | None = None
        #: The last HTTP error status the server answered (``"HTTP 401 Unauthorized"``).
        self.http_error: str | None = None

    @property
    def alive(self) -> bool:
        """Connected, the owner task still holds the connection, and a stdio server runs."""
        if self.client is None or self._task is None or self._task.done():
            return False
        return not self.exited  # a stdio server that exited while idle (the owner cannot tell)

    @property
    def exited(self) -> bool:
        """A stdio server's process has exited (its stderr closed)."""
        return self._pump is not None and self._pump.ended.is_set()

    # -- lifecycle ---------------------------------------------------------------

    async def start(self, connect_timeout: float) -> None:
        """Start the owner task and wait until the server has answered the handshake.

        Raises:
            ConfigurationError: the ``mcp`` extra is not installed.
            MCPServerError: the server could not be started or reached in time;
                the message says why (and what a stdio server printed).
        """
        try:
            import mcp  # noqa: F401 - fail here, with the fix, rather than in the task
        except ImportError as exc:
            raise ConfigurationError(MISSING_EXTRA) from exc
        self.connect_timeout = connect_timeout
        self._task = asyncio.create_task(self._own(), name=f"llmgine-mcp-{self.name}")
        try:
            async with asyncio.timeout(connect_timeout):
                await self._ready.wait()
        except TimeoutError:
            # Still in its handshake, the owner never looks at the stop flag: cancel it now
            # rather than wait out the stop grace as well.
            self._stop.set()
            self._task.cancel()
            await asyncio.wait({self._task}, timeout=_STOP_GRACE)
            hint = (
                "check the URL and that the server answers MCP there"
                if self.spec.kind == "http"
                else "check that it runs on its own"
            )
            raise MCPServerError(
                f"MCP server {self._who()} did not finish starting within "
                f"{connect_timeout:g} s{self._printed()}; {hint}, or give it more time "
                "(connect_timeout=)"
            ) from None
        except BaseException:  # cancelled while starting: the owner cleans up by itself
            self._stop.set()
            self._task.cancel()
            raise
        if self.failure is not None:
            await self.stop()
            verb = "reached" if self.spec.kind == "http" else "started"
            raise MCPServerError(
                f"MCP server {self._who()} could not be {verb}: {_describe(self.failure)}"
                f"{self._http_hint()}{self._printed()}"
            ) from self.failure

    async def _saw_response(self, response: Any) -> None:
        """Keep an HTTP server's error status: the SDK's own error does not say it."""
        if response.status_code >= 400:
            self.http_error = f"HTTP {response.status_code} {response.reason_phrase}".strip()

    def _http_hint(self) -> str:
        status = self.http_error
        if status is None:
            return ""
        code = status.split()[1]
        advice = {
            "401": ": check its headers (Authorization)",
            "403": ": check its headers (Authorization)",
            "404": ": check the URL's path (MCP servers often answer at /mcp)",
            "405": ": is this an MCP (streamable HTTP) endpoint?",
        }.get(code, "")
        return f" (the server answered {status}{advice})"

    def _who(self) -> str:
        return f"{self.name} ({self.label})" if self.label else self.name

    async def stop(self) -> None:
        """Close the connection (stdio: the process ends) and wait for the owner task."""
        self._stop.set()
        task = self._task
        current = asyncio.current_task()
        if task is None or task is current or current in self._helpers:
            return  # from inside the connection: the owner finishes after this returns
        if not task.done():
            await asyncio.wait({task}, timeout=_STOP_GRACE)
        if not task.done():  # stuck: cancelling still runs its clean-up in its own task
            task.cancel()
            await asyncio.wait({task}, timeout=_STOP_GRACE)
        if task.done() and not task.cancelled():
            task.exception()  # retrieved: the owner records failures itself

    def _printed(self) -> str:
        if self._pump is None:
            return ""
        self._pump.finish()
        if not self._pump.tail:
            return ""
        return "; it printed:\n  " + "\n  ".join(self._pump.tail)

    async def _own(self) -> None:
        import anyio

        try:
            async with contextlib.AsyncExitStack() as stack:
                client = await self._open(stack)
                if self._pump is not None:  # the child has its own: EOF once it exits
                    self._pump.close_writer()
                self.client = client
                info = client.server_info
                self.server_name = getattr(info, "name", None) or None
                async with anyio.create_task_group() as group:
                    group.start_soon(self._refresher)
                    if self._wants_listen(client):
                        group.start_soon(self._listen, client)
                    self._ready.set()
                    await self._stop.wait()
                    group.cancel_scope.cancel()
        except Exception as exc:  # reported by start(), or logged when it ends a live connection
            if self._ready.is_set():
                logger.info("MCP server %s: the connection ended: %s", self.name, _describe(exc))
            self.failure = exc
        finally:
            self.client = None
            self._ready.set()
            if self._pump is not None:
                self._pump.close_writer()

    async def _open(self, stack: contextlib.AsyncExitStack) -> Any:
        from mcp import Client
        from mcp.types import Implementation

        spec = self.spec
        target: Any
        if spec.kind == "stdio":
            from mcp.client.stdio import StdioServerParameters, stdio_client

            self._pump = StderrPump(self.name, self.mask)
            parameters = StdioServerParameters(
                command=spec.command, args=list(spec.args), env=spec.env, cwd=spec.cwd
            )
            target = stdio_client(parameters, errlog=self._pump.writer)
        elif spec.kind == "http":
            import httpx2
            from mcp.client.streamable_http import streamable_http_client

            # No HTTP read timeout: a listen stream stays open for long; every
            # request has the SDK's read timeout instead.
            http = await stack.enter_async_context(
                httpx2.AsyncClient(
                    headers=spec.headers,
                    timeout=httpx2.Timeout(30.0, read=None),
                    event_hooks={"response": [self._saw_response]},
                )
            )
            target = streamable_http_client(spec.url, http_client=http)
        else:
            target = spec.server
        client = Client(
            target,
            # The handshake waits for a slow start (a stdio server's imports);
            # every later request passes its own read timeout.
            read_timeout_seconds=self.connect_timeout,
            message_handler=self._on_message,
            cache=None,  # listings are cached by MCPServer, and refreshed on change
            client_info=Implementation(name="llmgine", version=__version__),
        )
        try:
            return await stack.enter_async_context(client)
        finally:
            if self._pump is not None:
                self._pump.close_writer()

    # -- tool list changes --------------------------------------------------------

    @staticmethod
    def _wants_listen(client: Any) -> bool:
        from mcp_types.version import MODERN_PROTOCOL_VERSIONS

        tools = getattr(client.server_capabilities, "tools", None)
        changes = bool(getattr(tools, "list_changed", False))
        return changes and client.protocol_version in MODERN_PROTOCOL_VERSIONS

    async def _on_message(self, message: Any) -> None:
        # Handshake-era servers send the notification on the connection;
        # 2026 servers on the listen stream, which the session also hands here.
        if getattr(message, "method", None) == "notifications/tools/list_changed":
            self._changed.set()
        elif isinstance(message, Exception):
            logger.debug("MCP server %s: transport error: %s", self.name, message)

    async def _listen(self, client: Any) -> None:
        """Hold a ``subscriptions/listen`` stream open (2026-07-28 servers send changes on it)."""
        from mcp import MCPError
        from mcp.types import CONNECTION_CLOSED

        self._helpers.add(_current())
        failures = 0
        while not self._stop.is_set():
            try:
                async with client.listen(tools_list_changed=True) as subscription:
                    if failures:  # no replay: what changed in the gap is fetched again
                        self._changed.set()
                    failures = 0
                    async for _event in subscription:
                        self._changed.set()
                return  # the server closed the stream gracefully
            except Exception as exc:
                failures += 1
                logger.debug("MCP server %s: listen stream ended: %s", self.name, exc)
                closed = isinstance(exc, MCPError) and exc.code == CONNECTION_CLOSED
                if closed or failures >= 3:
                    return  # the connection is gone: the next call restarts the server
                await asyncio.sleep(0.5 * failures)  # back off before listening again

    async def _refresher(self) -> None:
        self._helpers.add(_current())
        while True:
            await self._changed.wait()
            self._changed.clear()
            if self.on_tools_changed is None:
                continue
            try:
                await self.on_tools_changed(self)
            except MCPServerError as exc:  # gone: the next call restarts it
                logger.info("MCP server %s: refreshing its tools failed: %s", self.name, exc)
            except Exception as exc:  # a listener's bug must not end the connection
                logger.warning("MCP server %s: refreshing its tools failed: %s", self.name, exc)

    # -- requests ----------------------------------------------------------------

    async def list_tools(self) -> list[Any]:
        """Every tool the server lists (all pages), as the SDK's ``Tool`` objects."""
        tools: list[Any] = []
        cursor: str | None = None
        for _ in range(_MAX_PAGES):

            async def send(client: Any, page_cursor: str | None = cursor) -> Any:
                try:
                    async with asyncio.timeout(self.timeout):
                        return await client.list_tools(cursor=page_cursor)
                except TimeoutError:
                    raise CallTimedOut(f"tools/list took longer than {self.timeout:g} s") from None

            page = await self._request(send)
            tools.extend(page.tools)
            cursor = page.next_cursor
            if not cursor:
                break
        return tools

    async def call_tool(self, name: str, arguments: dict[str, Any], limit: float) -> Any:
        """Call a tool; the SDK's ``CallToolResult`` (``is_error`` results included).

        Raises:
            CallTimedOut: no answer within ``limit`` seconds.
            ConnectionLost: the server is gone.
            CallRejected: the server refused the request.
        """
        return await self._request(
            lambda client: client.call_tool(name, arguments, read_timeout_seconds=limit)
        )

    async def _request(self, send: Callable[[Any], Awaitable[Any]]) -> Any:
        import anyio
        from mcp import MCPError
        from mcp.types import CONNECTION_CLOSED, REQUEST_TIMEOUT

        client = self.client
        if client is None or not self.alive:
            raise ConnectionLost(_describe(self.failure) if self.failure else "not connected")
        try:
            return await send(client)
        except (CallTimedOut, CallRejected, ConnectionLost):
            raise
        except MCPError as exc:
            if exc.code == REQUEST_TIMEOUT:
                raise CallTimedOut(str(exc)) from exc
            if exc.code == CONNECTION_CLOSED:
                raise ConnectionLost(_lost(exc, self.spec)) from exc
            raise CallRejected(str(exc)) from exc
        except (anyio.ClosedResourceError, anyio.BrokenResourceError, anyio.EndOfStream) as exc:
            raise ConnectionLost(_lost(exc, self.spec)) from exc
        except OSError as exc:
            raise ConnectionLost(f"{type(exc).__name__}: {exc}") from exc
        except Exception as exc:  # a malformed answer, an HTTP error...
            if _is_http_error(exc):
                raise ConnectionLost(f"{type(exc).__name__}: {exc}") from exc
            raise CallRejected(f"{type(exc).__name__}: {exc}") from exc


def _current() -> asyncio.Task[Any]:
    task = asyncio.current_task()
    assert task is not None
    return task


def _lost(exc: BaseException, spec: TransportSpec) -> str:
    text = str(exc) or type(exc).__name__
    return "its process exited or closed the connection" if spec.kind == "stdio" else text


def _is_http_error(exc: BaseException) -> bool:
    try:
        import httpx2
    except ImportError:
        return False
    return isinstance(exc, httpx2.HTTPError)


def _describe(exc: BaseException) -> str:
    """One line for an exception, looking inside the exception groups anyio raises."""
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    if isinstance(exc, FileNotFoundError):
        return f"{exc.filename or 'the command'} was not found (is it installed and on PATH?)"
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
