"""The ToolManager: registers functions as tools, formats them, runs the model's calls."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Literal

from llmgine.errors import NoCommandHandlerError, ToolCallError, ToolDefinitionError
from llmgine.messages.sink import CommandSink, EventSink
from llmgine.messages.trace import current_message, new_id
from llmgine.observability.redaction import Redactor, default_redactor
from llmgine.tools.definition import Tool, tool_options
from llmgine.tools.events import (
    ToolApprovalCommand,
    ToolCallStartedEvent,
    ToolExecuteResultEvent,
    ToolRegisterEvent,
)
from llmgine.tools.execution import ArgumentsError, invoke, parse_arguments
from llmgine.tools.formats import format_tool
from llmgine.tools.loading import collect_tools
from llmgine.tools.mcp.events import MCPServerStatusEvent
from llmgine.tools.mcp.server import MCPServer
from llmgine.tools.result import RecordedResult, ToolOutput, ToolResult, result_text
from llmgine.tools.schema import build_tool, fits_openai_strict
from llmgine.tools.tool_call import ToolCall

__all__ = ["ToolManager"]

logger = logging.getLogger("llmgine.tools")


class ToolManager:
    """Turns functions into tools and runs the calls a model makes.

    Args:
        engine_id: The engine this manager serves (in its events).
        session_id: The session its events and approval commands belong to.
        llm_model_name: Target format: a provider (``"openai"``, ``"anthropic"``;
            the seed's ``"claude"`` and ``"deepseek"`` work too) or a
            ``"provider:model"`` string. Default: the OpenAI format.
        show_exception_details: Give the model the text of exceptions raised
            inside tools (False: only their type). The text is masked first.
        max_parallel_calls: Calls of one model turn that run at the same time.
        max_calls_per_tool: Calls of one tool that run at the same time (a
            tool's own ``max_concurrency`` wins).
        default_timeout: Seconds a call may take when its tool sets none (None: no limit).
        approve_when_unhandled: What happens to a ``requires_approval`` tool
            when nobody answers its :class:`ToolApprovalCommand` (no
            ``approvals``, or no handler for the command): ``"deny"``
            (default: the call is not run) or ``"allow"``.
        redactor: Masks secrets (API keys, bearer tokens, secret environment
            values) in every result and error text before it goes to the
            model, the events and the log (default: the shared redactor).
        events: Where its events go (an engine passes its bus); None: no events.
        approvals: Who answers :class:`ToolApprovalCommand` (anything with
            ``execute(command)``: an engine passes its bus).
    """

    def __init__(
        self,
        engine_id: str = "",
        session_id: str = "ROOT",
        llm_model_name: str | None = None,
        *,
        show_exception_details: bool = True,
        max_parallel_calls: int = 8,
        max_calls_per_tool: int = 4,
        default_timeout: float | None = None,
        approve_when_unhandled: Literal["deny", "allow"] = "deny",
        redactor: Redactor | None = None,
        events: EventSink | None = None,
        approvals: CommandSink | None = None,
    ) -> None:
        self.tool_manager_id = new_id()
        self.engine_id = engine_id
        self.session_id = session_id
        self.llm_model_name = llm_model_name
        self.show_exception_details = show_exception_details
        self.max_parallel_calls = max(1, max_parallel_calls)
        self.max_calls_per_tool = max(1, max_calls_per_tool)
        self.default_timeout = default_timeout
        self.approve_when_unhandled = approve_when_unhandled
        self.redactor = redactor or default_redactor()
        self.events = events
        self.approvals = approvals
        self.tools: dict[str, Tool] = {}
        self._tool_limits: dict[str, asyncio.Semaphore] = {}
        self._formatted: dict[str | None, list[dict[str, Any]]] = {}
        self._recorded: Callable[[ToolCall], RecordedResult | None] | None = None
        # MCP servers offered, each with whether this manager started it (and closes it).
        self._mcp_servers: dict[MCPServer, bool] = {}
        self._mcp_names: dict[MCPServer, list[str]] = {}

    # -- registration ---------------------------------------------------------

    async def register_tool(self, function: Callable[..., Any]) -> Tool:
        """Register ``function`` (``@tool``-decorated or plain) and return its :class:`Tool`.

        Raises:
            ToolDefinitionError: the function cannot be a tool (no description, ...).
        """
        built = build_tool(function, tool_options(function))
        existing = self.tools.get(built.name)
        if existing is not None and existing.server is not None:
            raise ToolDefinitionError(
                f"{built.name} is already the name of a tool of the MCP server "
                f"{existing.server}; give the server a prefix= or the function @tool(name=...)"
            )
        if existing is not None:
            logger.info("Tool %s registered again: the new function replaces the old", built.name)
        await self._add(built)
        return built

    async def _add(self, built: Tool) -> None:
        self.tools[built.name] = built
        self._tool_limits.pop(built.name, None)
        self._formatted.clear()
        if self._wants(ToolRegisterEvent):
            info = {
                "name": built.name,
                "description": built.description,
                "parameters": built.parameters,
            }
            if built.server is not None:
                info["server"] = built.server
            await self._publish(
                ToolRegisterEvent(
                    tool_manager_id=self.tool_manager_id,
                    engine_id=self.engine_id,
                    session_id=self.session_id,
                    tool_info=info,
                )
            )

    def _wants(self, event_type: type[Any]) -> bool:
        return self.events is not None and self.events.has_handlers(event_type, self.session_id)

    async def _publish(self, event: Any) -> None:
        assert self.events is not None
        await self.events.publish(event)

    async def register_tools(self, *sources: Any) -> list[Tool]:
        """Register many tools at once.

        Each source may be a function, a list of functions, a module, a module
        or package path (``"tools.weather"``), a ``.py`` file or a folder of
        them; from modules, files and folders, the functions marked ``@tool``
        are taken, in definition order. An :class:`MCPServer` adds its tools
        (after the functions; see :meth:`add_mcp_server`).

        Raises:
            ToolDefinitionError: a source cannot be loaded or holds no tools.
            MCPServerError: an MCP server could not be started or reached.
        """
        servers: list[MCPServer] = []
        registered = []
        for function in collect_tools(_without_servers(sources, servers)):
            registered.append(await self.register_tool(function))
        for server in servers:
            registered.extend(await self.add_mcp_server(server))
        return registered

    async def register_schema(self, schema: dict[str, Any]) -> Tool:
        """Offer a tool known only by its schema (``name``, ``description``, ``parameters``).

        For replays: the model sees the tool exactly as it was recorded; its
        calls are answered by :meth:`answer_from`, never run. ``server``, when
        the schema names one, is the MCP server the recorded tool came from.
        """

        def not_run(**arguments: Any) -> str:
            raise ToolDefinitionError(f"{schema['name']} was recorded, not defined here")

        parameters = schema.get("parameters") or {"type": "object", "properties": {}}
        recorded = Tool(
            name=str(schema["name"]),
            description=str(schema.get("description") or ""),
            parameters=parameters,
            function=not_run,
            is_async=False,
            arguments_model=None,
            strict=fits_openai_strict(parameters),
            server=str(schema["server"]) if schema.get("server") else None,
        )
        self.tools[recorded.name] = recorded
        self._formatted.clear()
        return recorded

    def answer_from(self, source: Callable[[ToolCall], RecordedResult | None] | None) -> None:
        """Answer every call with ``source(call)`` instead of running a tool (None: run them).

        ``source`` returns the recorded result, or None when it has none (the
        call then fails with an error result saying so).
        """
        self._recorded = source

    # -- MCP servers ----------------------------------------------------------

    async def add_mcp_server(self, server: MCPServer) -> list[Tool]:
        """Offer the tools of an MCP server; start it (or connect) if it is not open.

        Its tools keep the server's names, or get its ``prefix``; they go
        through the same path as functions (validation against their JSON
        schema, timeouts, approvals, concurrency caps, events). They follow
        the server: refreshed when it says its tools changed, or after it was
        restarted. A server this call started is closed by :meth:`close`.

        Raises:
            MCPServerError: the server could not be started or reached.
            ToolDefinitionError: one of its tools has the name of another tool.
        """
        if server in self._mcp_servers:
            return [self.tools[name] for name in self._mcp_names.get(server, [])]
        opened = not server.connected
        server.add_listener(self._on_mcp_status)  # a failure to start is an event too
        try:
            await server.connect()
            tools = await self._offer_mcp_tools(server)
        except BaseException:
            server.remove_listener(self._on_mcp_status)
            if opened:
                await server.close()
            raise
        self._mcp_servers[server] = opened
        await self._on_mcp_status(server, "connected", server.summary)
        return tools

    @property
    def mcp_servers(self) -> list[MCPServer]:
        """The MCP servers whose tools are offered."""
        return list(self._mcp_servers)

    async def _offer_mcp_tools(self, server: MCPServer) -> list[Tool]:
        """Offer the server's current tools in place of those it had."""
        from llmgine.tools.mcp.convert import server_tools

        mine = self._mcp_names.get(server, [])
        tools = server_tools(server, await server.list_tools(), self.tools, mine)
        for name in mine:
            self.unregister_tool(name)
        for built in tools:
            await self._add(built)
        self._mcp_names[server] = [t.name for t in tools]
        return tools

    async def _on_mcp_status(self, server: MCPServer, status: str, detail: str) -> None:
        if server not in self._mcp_servers and status in ("connected", "closed"):
            return  # being added (add_mcp_server says so once its tools are offered)
        if status in ("tools_changed", "restarted") and server in self._mcp_servers:
            try:
                await self._offer_mcp_tools(server)
            except ToolDefinitionError as exc:  # a new tool clashes: keep the old ones
                logger.warning("%s", exc)
                detail = f"{detail}; {exc}"
        if self._wants(MCPServerStatusEvent):
            await self._publish(
                MCPServerStatusEvent(
                    tool_manager_id=self.tool_manager_id,
                    engine_id=self.engine_id,
                    session_id=self.session_id,
                    server=server.name,
                    status=status,
                    detail=self.redactor.redact_text(server.mask(detail)),
                    tools=list(self._mcp_names.get(server, [])),
                )
            )

    async def close(self) -> None:
        """Close the MCP servers this manager started, and stop offering every server's tools.

        Servers that were already open when added (you opened them) stay
        open. Safe to call from any task, and more than once.
        """
        for server, opened in list(self._mcp_servers.items()):
            try:
                if opened:
                    await server.close()
            finally:
                server.remove_listener(self._on_mcp_status)
                self._mcp_servers.pop(server, None)
                for name in self._mcp_names.pop(server, []):
                    self.unregister_tool(name)

    def unregister_tool(self, name: str) -> bool:
        """Forget the tool named ``name``; return whether there was one."""
        self._tool_limits.pop(name, None)
        self._formatted.clear()
        return self.tools.pop(name, None) is not None

    @property
    def tool_names(self) -> list[str]:
        """Names of the registered tools, in registration order."""
        return list(self.tools)

    async def get_tools(self, llm_model_name: str | None = None) -> list[dict[str, Any]]:
        """The registered tools in the target model's format (built once per format)."""
        target = llm_model_name or self.llm_model_name
        formatted = self._formatted.get(target)
        if formatted is None:
            formatted = [format_tool(tool, target) for tool in self.tools.values()]
            self._formatted[target] = formatted
        return list(formatted)

    # -- execution ------------------------------------------------------------

    async def execute_tool_calls(self, tool_calls: Sequence[ToolCall]) -> list[ToolResult]:
        """Run one model turn's calls; results come back in the order of the calls.

        Calls run concurrently (at most ``max_parallel_calls`` at once, and per
        tool at most its limit); a ``sequential`` tool's call runs alone,
        after the calls before it and before the calls after it.
        """
        if len(tool_calls) == 1:  # nothing to run beside it
            return [await self.execute_tool_call(tool_calls[0])]
        results: list[ToolResult | None] = [None] * len(tool_calls)
        turn_limit = asyncio.Semaphore(self.max_parallel_calls)

        async def run(index: int, call: ToolCall) -> None:
            async with turn_limit:
                results[index] = await self.execute_tool_call(call)

        batch: list[tuple[int, ToolCall]] = []
        for index, call in enumerate(tool_calls):
            tool = self.tools.get(call.name)
            if tool is not None and tool.options.sequential:
                await _gather(run(i, c) for i, c in batch)
                batch = []
                await run(index, call)
            else:
                batch.append((index, call))
        await _gather(run(i, c) for i, c in batch)
        return [result for result in results if result is not None]

    async def execute_tool_call(self, tool_call: ToolCall) -> ToolResult:
        """Run one call and return its :class:`ToolResult`; never raises for a bad call.

        Malformed JSON, an unknown tool, invalid arguments, a declined
        approval, an exception in the tool or a timeout each give a result
        with ``is_error=True`` and a message the model can act on. Secrets in
        the text (an API key in an exception message, say) are masked before
        it reaches the model, the event or the log.
        """
        if not self._wants(ToolCallStartedEvent):
            return await self._execute(tool_call)
        event = ToolCallStartedEvent(
            tool_manager_id=self.tool_manager_id,
            engine_id=self.engine_id,
            session_id=self.session_id,
            tool_name=tool_call.name,
            tool_call_id=tool_call.id,
            arguments=_json_or_text(tool_call.arguments),
        )
        await self._publish(event)
        # Everything the call causes (an approval, the tool's own events, its
        # result) is the start event's child.
        token = current_message.set(
            (event.event_id, event.trace_id or event.event_id, self.session_id)
        )
        try:
            return await self._execute(tool_call)
        finally:
            current_message.reset(token)

    async def _execute(self, tool_call: ToolCall) -> ToolResult:
        started = time.monotonic()
        if self._recorded is not None:
            recorded = self._recorded(tool_call)
            if recorded is None:
                return await self._finish(
                    tool_call,
                    started,
                    _json_or_text(tool_call.arguments),
                    error=f"Error: the log has no result of {tool_call.name} with these arguments.",
                    error_type="not_recorded",
                )
            if recorded.is_error:
                return await self._finish(
                    tool_call,
                    started,
                    recorded.arguments,
                    error=recorded.content,
                    error_type=recorded.error_type or "_OTHER",
                )
            return await self._finish(
                tool_call, started, recorded.arguments, value=recorded.content
            )
        tool = self.tools.get(tool_call.name)
        arguments: Any = tool_call.arguments
        if tool is None:
            available = ", ".join(self.tools) or "none"
            return await self._finish(
                tool_call,
                started,
                arguments,
                error=f"Error: there is no tool named {tool_call.name!r}. "
                f"Available tools: {available}.",
                error_type="unknown_tool",
            )
        try:
            arguments = parse_arguments(tool, tool_call)
        except ArgumentsError as exc:
            return await self._finish(
                tool_call, started, arguments, error=str(exc), error_type="invalid_arguments"
            )
        if tool.options.requires_approval:
            refusal = await self._ask_approval(tool, tool_call, arguments)
            if refusal is not None:
                return await self._finish(
                    tool_call, started, arguments, error=refusal, error_type="declined"
                )
        timeout = tool.options.timeout if tool.options.timeout is not None else self.default_timeout
        try:
            async with self._limit_for(tool):
                value = await invoke(tool, arguments, timeout)
        except TimeoutError:
            return await self._finish(
                tool_call,
                started,
                arguments,
                error=f"Error: {tool.name} did not finish within {timeout:g} seconds.",
                error_type="timeout",
            )
        except ToolCallError as exc:  # the tool's own message for the model
            return await self._finish(
                tool_call, started, arguments, error=str(exc), error_type=type(exc).__name__
            )
        except Exception as exc:
            text = self.redactor.redact_text(str(exc))
            logger.info("Tool %s raised %s: %s", tool.name, type(exc).__name__, text)
            detail = f": {text}" if self.show_exception_details and text else ""
            return await self._finish(
                tool_call,
                started,
                arguments,
                error=f"Error: {tool.name} failed with {type(exc).__name__}{detail}",
                error_type=type(exc).__name__,
            )
        return await self._finish(tool_call, started, arguments, value=value)

    def _limit_for(self, tool: Tool) -> asyncio.Semaphore:
        limit = self._tool_limits.get(tool.name)
        if limit is None:
            limit = asyncio.Semaphore(tool.options.max_concurrency or self.max_calls_per_tool)
            self._tool_limits[tool.name] = limit
        return limit

    async def _ask_approval(
        self, tool: Tool, tool_call: ToolCall, arguments: dict[str, Any]
    ) -> str | None:
        """None when the call may run, else the text for the model."""
        command = ToolApprovalCommand(
            tool_name=tool.name,
            arguments=arguments,
            tool_call_id=tool_call.id,
            description=tool.description,
            session_id=self.session_id,
        )
        try:
            if self.approvals is None:
                raise NoCommandHandlerError("no one answers approvals")
            outcome = await self.approvals.execute(command)
        except NoCommandHandlerError:
            if self.approve_when_unhandled == "allow":
                return None
            return (
                f"{tool.name} needs the user's approval and no one is there to give it, "
                "so it was not run."
            )
        if outcome.success and outcome.result is True:
            return None
        reason = f" ({outcome.error})" if not outcome.success and outcome.error else ""
        return f"The user declined to run {tool.name}{reason}; it was not run."

    async def _finish(
        self,
        tool_call: ToolCall,
        started: float,
        arguments: Any,
        *,
        value: Any = None,
        error: str | None = None,
        error_type: str | None = None,
    ) -> ToolResult:
        duration = time.monotonic() - started
        if error is not None:
            error = self.redactor.redact_text(error)
        # What the model reads is masked; ``value`` stays as the tool returned it.
        content = error if error is not None else self.redactor.redact_text(result_text(value))
        parts = None
        if isinstance(value, ToolOutput):
            parts = [self._masked(part) for part in value.parts] if value.parts else None
            value = value.value
        result = ToolResult(
            tool_call_id=tool_call.id,
            name=tool_call.name,
            content=content,
            is_error=error is not None,
            value=None if error is not None else value,
            duration_s=duration,
            parts=None if error is not None else parts,
        )
        if self._wants(ToolExecuteResultEvent):
            await self._publish(
                ToolExecuteResultEvent(
                    tool_manager_id=self.tool_manager_id,
                    engine_id=self.engine_id,
                    session_id=self.session_id,
                    tool_name=tool_call.name,
                    tool_call_id=tool_call.id,
                    arguments=arguments,
                    result=content,
                    is_error=result.is_error,
                    duration_s=duration,
                    error_type=error_type if error is not None else None,
                    server=getattr(self.tools.get(tool_call.name), "server", None),
                )
            )
        return result

    def _masked(self, part: dict[str, Any]) -> dict[str, Any]:
        if part.get("type") == "text" and isinstance(part.get("text"), str):
            return {**part, "text": self.redactor.redact_text(part["text"])}
        return part


def _without_servers(sources: Iterable[Any], servers: list[MCPServer]) -> list[Any]:
    """``sources`` without the MCP servers in them (nested lists too), which go to ``servers``."""
    rest: list[Any] = []
    for source in sources:
        if isinstance(source, MCPServer):
            servers.append(source)
        elif isinstance(source, list | tuple | set):
            rest.append(_without_servers(source, servers))
        else:
            rest.append(source)
    return rest


async def _gather(coroutines: Iterable[Any]) -> None:
    tasks = list(coroutines)
    if tasks:
        await asyncio.gather(*tasks)


def _json_or_text(arguments: str) -> Any:
    try:
        return json.loads(arguments)
    except (TypeError, ValueError):
        return arguments
