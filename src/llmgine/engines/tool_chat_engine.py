"""The tool-chat engine: the function-calling loop over a conversation.

The model answers or asks for tools; the engine runs the tools, gives the
results back, and calls the model again, until it answers without tool calls
(or ``max_iterations`` calls were made). Run it interactively with
``python -m llmgine.engines.tool_chat_engine``.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Sequence
from typing import Any

from llmgine.bus.interface import Bus
from llmgine.context.conversations import ConversationStore
from llmgine.context.memory import InMemoryContextManager, SimpleChatHistory
from llmgine.context.persistent import SQLiteContextManager
from llmgine.engines.base import Engine
from llmgine.engines.messages import EngineCommand, EngineStatusEvent
from llmgine.errors import EngineError, LLMgineError
from llmgine.memory.context import MemoryContextManager
from llmgine.memory.recall import Memory
from llmgine.messages.commands import CommandResult
from llmgine.models.interface import Model
from llmgine.models.registry import get_model
from llmgine.tools.definition import tool_options
from llmgine.tools.loading import collect_tools
from llmgine.tools.manager import ToolManager
from llmgine.tools.mcp.server import MCPServer
from llmgine.tools.schema import build_tool

__all__ = [
    "ToolChatEngine",
    "ToolChatEngineCommand",
    "ToolChatEngineStatusEvent",
    "use_tool_chat_engine",
]

DEFAULT_SYSTEM_PROMPT = "You are a helpful assistant. Use the tools when they help."


class ToolChatEngineCommand(EngineCommand):
    """Ask the tool-chat engine to answer ``prompt`` (using tools as needed)."""


class ToolChatEngineStatusEvent(EngineStatusEvent, kw_only=True):
    """Status of the tool-chat engine."""


class ToolChatEngine(Engine):
    """A conversation with tools: the function-calling loop.

    Args:
        session_id: The session of its handler and events.
        model: A model or ``"provider:model"`` string (default: see
            :func:`~llmgine.engines.defaults.default_model`). Any provider works,
            Anthropic included: tools are formatted for it.
        system_prompt: Instructions sent first (default: a short one; None: none).
            A continued stored conversation keeps the one it was last used
            with, unless one is given here.
        tools: Functions (or modules, module paths, ``.py`` files) and
            MCP servers (:class:`~llmgine.tools.MCPServer`) to offer; registered
            (servers started) on the first turn. :meth:`close` stops those servers.
        max_iterations: Most model calls in one turn; past it the turn fails
            with an error that names the limit.
        stream: Stream answers (text deltas are published as events).
        context: The history to use (default: an :class:`InMemoryContextManager`,
            or a :class:`SQLiteContextManager` when ``conversation_id`` or ``db``
            is given).
        tool_manager: The tool manager to use (default: a new one).
        engine_id: Its id.
        bus: Where it publishes (default: the message bus singleton).
        conversation_id: Continue this stored conversation (an id or a unique
            prefix) from ``db``.
        db: The conversations store or the path of its file; given alone, a
            new conversation is stored in it (default file: see
            :func:`~llmgine.context.default_db_path`).
        memory: Recall relevant earlier turns into each turn: a
            :class:`~llmgine.memory.Memory` (its store is the conversations
            store), or True for one on ``db`` with the default embedder. Its
            :class:`~llmgine.memory.MemoryRecallEvent` goes to ``bus``.

    Raises:
        ConversationNotFoundError: ``conversation_id`` names no stored conversation.
        ConversationStoreError: the conversations file cannot be used.
    """

    command_type = ToolChatEngineCommand
    status_event_type = ToolChatEngineStatusEvent

    def __init__(
        self,
        session_id: str | None = None,
        model: Model | str | None = None,
        system_prompt: str | None = DEFAULT_SYSTEM_PROMPT,
        tools: Sequence[Callable[..., Any] | Any] | None = None,
        *,
        max_iterations: int = 10,
        stream: bool = False,
        context: SimpleChatHistory | None = None,
        tool_manager: ToolManager | None = None,
        engine_id: str | None = None,
        bus: Bus | None = None,
        conversation_id: str | None = None,
        db: ConversationStore | str | os.PathLike[str] | None = None,
        memory: Memory | bool = False,
    ) -> None:
        super().__init__(session_id=session_id, engine_id=engine_id, bus=bus)
        self.model = self.resolve_model(model)
        self.max_iterations = max_iterations
        self.stream = stream
        about = {"engine": type(self).__name__, "model": self.model.model_string}
        self._opened: ConversationStore | None = None  # a store this engine opened (and closes)
        if context is None and memory is not False:
            if not isinstance(memory, Memory):
                if isinstance(db, ConversationStore):
                    store = db
                else:
                    store = self._opened = ConversationStore(db)
                memory = Memory(store)
            context = MemoryContextManager(
                self.engine_id,
                self.session_id,
                memory=memory,
                events=self.bus,
                conversation_id=conversation_id,
                metadata=about,
            )
        elif context is None and (conversation_id is not None or db is not None):
            context = SQLiteContextManager(
                self.engine_id,
                self.session_id,
                store=db,
                conversation_id=conversation_id,
                metadata=about,
            )
        self.context = context or InMemoryContextManager(self.engine_id, self.session_id)
        stored = getattr(self.context, "stored_system_prompt", None)
        if system_prompt is DEFAULT_SYSTEM_PROMPT and stored is not None:
            system_prompt = stored or None  # a continued conversation keeps its own
        self.context.set_system_prompt(system_prompt)
        self.tool_manager = tool_manager or ToolManager(
            self.engine_id,
            self.session_id,
            llm_model_name=self.model.provider,
            events=self.bus,
            approvals=self.bus,
        )
        self._unregistered: list[Any] = list(tools or [])

    # -- configuration --------------------------------------------------------

    def settings(self) -> dict[str, Any]:
        """The system prompt, the iteration limit, whether it streams, any history and memory.

        ``history`` is the conversation the engine starts from when it
        continues one (a stored conversation), so a replay starts there too;
        ``memory`` how its memory recalls (embedder, backend, token budget).
        """
        settings: dict[str, Any] = {
            "system_prompt": self.system_prompt,
            "max_iterations": self.max_iterations,
            "stream": self.stream,
        }
        history = getattr(self.context, "chat_history", None)
        if history:
            settings["history"] = [dict(message) for message in history]
        memory = getattr(self.context, "memory_settings", None)
        if callable(memory):  # a replay brings in what each turn recalled, from the log
            settings["memory"] = memory()
        return settings

    @classmethod
    def rebuild(
        cls,
        settings: dict[str, Any],
        *,
        model_for: Callable[[str], Model],
        models: Sequence[str],
        tools: Sequence[Any] = (),
        session_id: str | None = None,
    ) -> Engine:
        """The engine again, its conversation in memory where the recorded one started.

        A replay never writes to a conversation store.
        """
        settings = dict(settings)
        history = settings.pop("history", None) or []
        settings.pop("memory", None)  # the store is not read: replay_log brings in the recalls
        engine = super().rebuild(
            settings, model_for=model_for, models=models, tools=tools, session_id=session_id
        )
        assert isinstance(engine, ToolChatEngine)
        if isinstance(engine.context, InMemoryContextManager):
            engine.context.chat_history.extend(dict(message) for message in history)
        return engine

    def tool_schemas(self) -> list[dict[str, Any]]:
        """Its tools' schemas, those still to be registered too (an MCP tool's with ``server``)."""
        tools = list(self.tool_manager.tools.values())
        functions = [source for source in self._unregistered if not isinstance(source, MCPServer)]
        try:  # an MCP server's tools are known once it has started
            pending = [build_tool(fn, tool_options(fn)) for fn in collect_tools(functions)]
        except LLMgineError:  # tools that cannot load: the first turn fails saying why
            pending = []
        tools += pending
        return [
            {"name": t.name, "description": t.description, "parameters": t.parameters}
            | ({"server": t.server} if t.server is not None else {})
            for t in tools
        ]

    @property
    def system_prompt(self) -> str | None:
        """The current system prompt."""
        return self.context.system_prompt

    def set_system_prompt(self, prompt: str | None) -> None:
        """Replace the system prompt (the conversation stays)."""
        self.context.set_system_prompt(prompt)

    def set_model(self, model: Model | str) -> None:
        """Use another model from now on (the conversation stays)."""
        self.model = get_model(model)
        self.tool_manager.llm_model_name = self.model.provider

    async def register_tool(self, function: Callable[..., Any]) -> None:
        """Offer ``function`` to the model as a tool."""
        await self.tool_manager.register_tool(function)

    async def register_tools(self, *sources: Any) -> None:
        """Offer ``@tool`` functions (or modules, paths, files of them) and MCP servers."""
        await self.tool_manager.register_tools(*sources)

    async def close(self) -> None:
        """Stop the MCP servers the engine started; close a store it opened (it stays stored)."""
        await self.tool_manager.close()
        close = getattr(self.context, "close", None)
        if callable(close):  # writes what it holds back; closes a store it opened itself
            close()
        if self._opened is not None:
            self._opened.close()
            self._opened = None

    @property
    def tool_names(self) -> list[str]:
        """Names of the tools offered (including those given but not registered yet)."""
        pending = [getattr(t, "__name__", str(t)) for t in self._unregistered if callable(t)]
        return self.tool_manager.tool_names + pending

    def clear_context(self) -> None:
        """Forget the conversation (the system prompt stays); a stored one is deleted."""
        self.context.clear()

    def new_conversation(self) -> str | None:
        """Start a new conversation; a stored one stays in the store. The new one's id.

        In memory (nothing stored), the conversation is forgotten and None returned.
        """
        start = getattr(self.context, "new_conversation", None)
        if start is None:
            self.context.clear()
            return None
        return str(start())

    @property
    def conversation_id(self) -> str | None:
        """The id of the stored conversation, when the context stores one."""
        value = getattr(self.context, "conversation_id", None)
        return value if isinstance(value, str) else None

    # -- the loop ---------------------------------------------------------------

    async def announce(self) -> None:
        """Register the tools given to the constructor first (MCP servers start), then announce.

        The run's header then holds every tool's schema, an MCP server's
        included. Tools that cannot be registered now are left for the first
        turn, which fails saying why.
        """
        await self._register_pending()
        await super().announce()

    async def _register_pending(self) -> LLMgineError | None:
        """Register the constructor's tools not registered yet; the error, if that failed."""
        if not self._unregistered:
            return None
        pending, self._unregistered = self._unregistered, []
        try:
            await self.tool_manager.register_tools(*pending)
        except LLMgineError as exc:  # an MCP server that cannot start, a bad tool...
            self._unregistered = pending  # tried again on the next turn
            return exc
        return None

    async def handle_command(self, command: EngineCommand) -> CommandResult:
        """Run one turn of the conversation for ``command.prompt``.

        A failure (bad key, unreachable provider, too many iterations) is a
        failed result with one readable error; the context is left as before
        the turn. Cancelling the turn also leaves it as before: an assistant
        message with tool calls is stored only together with their results.
        """
        failure = await self._register_pending()
        if failure is not None:
            return self._failed(command, str(failure), type(failure).__name__)
        self.usage.start_turn()
        checkpoint = self.context.checkpoint()
        try:
            self.context.store_string(command.prompt, "user")  # a store may refuse it
            return await self._turn(command)
        except asyncio.CancelledError:
            self.context.rollback(checkpoint)
            raise
        except LLMgineError as exc:
            self.context.rollback(checkpoint)
            await self.finish()
            return self._failed(command, str(exc), type(exc).__name__)
        except Exception as exc:  # a bug somewhere below: one line, not a traceback
            self.context.rollback(checkpoint)
            await self.finish()
            return self._failed(command, f"{type(exc).__name__}: {exc}", type(exc).__name__)

    async def _turn(self, command: EngineCommand) -> CommandResult:
        for _ in range(self.max_iterations):
            messages = await self.context.retrieve()
            tools = await self.tool_manager.get_tools() if self.tool_manager.tools else None
            await self.publish_status(f"calling {self.model.model_string}")
            response = await self.generate(self.model, messages, self.stream, tools=tools)
            if not response.tool_calls:
                await self.context.store_assistant_message(response)
                await self.finish()
                return CommandResult(
                    success=True,
                    result=response.content or "",
                    session_id=command.session_id,
                    metadata={**self.usage.metadata(), "model": self.model.model_string},
                )
            names = ", ".join(call.name for call in response.tool_calls)
            await self.publish_status(f"running {names}")
            results = await self.tool_manager.execute_tool_calls(response.tool_calls)
            # Stored together: a cancelled turn never leaves calls without results.
            await self.context.store_assistant_message(response)
            for result in results:  # each one already a ToolExecuteResultEvent
                self.context.store_tool_call_result(
                    result.tool_call_id, result.name, result.message_content
                )
        await self.finish()
        return self._failed(
            command,
            f"stopped after max_iterations={self.max_iterations} model calls without a final "
            "answer (the model kept calling tools); raise max_iterations or check the tools",
            "max_iterations",
        )

    def _failed(self, command: EngineCommand, error: str, error_type: str) -> CommandResult:
        return CommandResult(
            success=False,
            error=error,
            session_id=command.session_id,
            metadata={
                **self.usage.metadata(),
                "model": self.model.model_string,
                "error_type": error_type,
            },
        )


async def use_tool_chat_engine(
    prompt: str,
    model: Model | str | None = None,
    tools: Sequence[Callable[..., Any] | Any] | None = None,
    system_prompt: str | None = DEFAULT_SYSTEM_PROMPT,
    **settings: Any,
) -> str:
    """Answer ``prompt`` with the function-calling loop and return the text.

    Works from a plain script: no bootstrap or bus set-up needed. MCP servers
    in ``tools`` are started for the answer and stopped after it. With
    ``conversation_id=`` (and ``db=``, a path or a ``ConversationStore``) the
    prompt continues a stored conversation and the turn is stored in it;
    ``context=`` takes any context manager.

    Raises:
        EngineError: the engine could not answer (its message says why).
    """
    try:
        engine = ToolChatEngine(model=model, system_prompt=system_prompt, tools=tools, **settings)
    except LLMgineError as exc:  # a bad model name, an unusable tool...
        raise EngineError(str(exc)) from exc
    try:
        return await engine.answer(prompt)
    finally:
        await engine.close()


if __name__ == "__main__":
    from llmgine.cli.launcher import main

    main(ToolChatEngine, "Tool-chat engine: a conversation in which the model can call tools.")
