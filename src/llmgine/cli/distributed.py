"""Engines across processes: ``llmgine worker --redis URL`` and ``llmgine chat --redis URL``.

A worker runs an engine as a bus command handler on a Redis transport and
shares the events a front end shows (:data:`WORKER_EVENTS`: statuses,
streamed text, tool calls, model calls, the turn's command); a chat client
sends each message as the engine's command and renders the events the worker
sends back (status, streamed text and thinking, tool results) as if the
engine were local. Each client has a session of its own, and the worker that
answered a session first keeps it (its engine holds the conversation), while
any worker takes a session whose worker is gone. Cancelling a client's turn
(Ctrl-C) cancels it on its worker. Both say when their connection to Redis is
lost and when it is back.
"""

from __future__ import annotations

import argparse
import asyncio
import inspect
import signal
import sys
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from llmgine._version import __version__
from llmgine.bus.transport import TransportStatusEvent
from llmgine.cli.conversation_options import conversation_flags
from llmgine.cli.launcher import UsageError, cli_application, read_prompt
from llmgine.engines.base import Engine
from llmgine.engines.defaults import default_model
from llmgine.engines.messages import (
    EngineStatusEvent,
    EngineTextDeltaEvent,
    EngineThinkingDeltaEvent,
)
from llmgine.engines.ui_events import UI_EVENTS
from llmgine.errors import LLMgineError
from llmgine.messages.base import ROOT
from llmgine.messages.commands import Command, CommandResult
from llmgine.messages.events import Event
from llmgine.messages.trace import new_id
from llmgine.models.registry import get_model
from llmgine.tools.events import ToolExecuteResultEvent

__all__ = [
    "ENGINE_EVENTS",
    "WORKER_EVENTS",
    "add_worker_arguments",
    "connection_notice",
    "refuse_worker_options",
    "run_remote_chat",
    "run_worker",
    "watch_connection",
]

#: What the terminal CLI shows of a remote engine (the events ``chat --redis`` takes).
ENGINE_EVENTS: tuple[type[Event], ...] = (
    EngineStatusEvent,
    EngineTextDeltaEvent,
    EngineThinkingDeltaEvent,
    ToolExecuteResultEvent,
)
#: What a worker shares: everything a front end shows, the web page's trace view included.
WORKER_EVENTS: tuple[type[Event], ...] = UI_EVENTS
# The options of a front end that the workers own, by attribute.
_WORKER_OWNED = (
    ("model", "--model"),
    ("system", "--system"),
    ("tools", "--tools"),
    ("mcp", "--mcp"),
    ("mcp_url", "--mcp-url"),
    ("mcp_config", "--mcp-config"),
    ("no_stream", "--no-stream"),
    ("timeout", "--timeout"),
)
_MAX_SESSIONS = 1000  # engines (conversations) a worker keeps; the oldest go first

WORKER = "Run an engine as a worker on Redis: it answers the commands `llmgine chat --redis` sends."


def _engines() -> dict[str, type[Engine]]:
    from llmgine.engines.single_pass_engine import SinglePassEngine
    from llmgine.engines.tool_chat_engine import ToolChatEngine

    return {"tool_chat": ToolChatEngine, "single_pass": SinglePassEngine}


def connection_notice(event: TransportStatusEvent) -> str:
    """One line for a person about the connection to Redis."""
    if event.status == "lost":
        return f"lost the connection to Redis ({event.detail}); reconnecting..."
    return "reconnected to Redis"


def watch_connection(bus: Any, show: Callable[[str], None]) -> None:
    """Show a line when the bus's transport loses its connection, and when it is back."""
    bus.register_event_handler(TransportStatusEvent, lambda event: show(connection_notice(event)))


def _stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def add_worker_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``llmgine worker``."""
    parser.add_argument("--redis", required=True, metavar="URL", help="redis://host:6379/0")
    parser.add_argument(
        "--engine", choices=["tool_chat", "single_pass"], default="tool_chat", help="the engine"
    )
    parser.add_argument("--model", help="provider:model (default: as `llmgine chat`)")
    parser.add_argument("--system", help="system prompt")
    parser.add_argument(
        "--tools",
        action="append",
        default=[],
        metavar="MODULE_FILE_OR_FOLDER",
        help="@tool functions to offer (tool_chat; repeatable)",
    )
    parser.add_argument("--no-stream", action="store_true", help="wait for whole answers")
    parser.add_argument("--node", help="this worker's node name (default: unique)")
    parser.add_argument(
        "--claim-after",
        type=float,
        default=30.0,
        metavar="SECONDS",
        help="seconds before another worker takes over the command of a dead one (default 30)",
    )
    parser.add_argument(
        "--max-concurrency",
        type=int,
        default=16,
        metavar="N",
        help="most commands this worker runs at once (default 16)",
    )
    parser.add_argument(
        "--log-dir", default="logs", help="where the JSONL event log goes (default: logs)"
    )
    parser.add_argument("--version", action="version", version=f"llmgine {__version__}")


def _engine_kwargs(engine_type: type[Engine], args: argparse.Namespace) -> dict[str, Any]:
    kwargs: dict[str, Any] = {"stream": not args.no_stream}
    if args.system is not None:
        kwargs["system_prompt"] = args.system
    accepted = inspect.signature(engine_type).parameters
    return {key: value for key, value in kwargs.items() if key in accepted}


async def _serve(args: argparse.Namespace) -> int:
    from llmgine.distributed import RedisTransport

    engine_type = _engines()[args.engine]
    if args.tools and args.engine != "tool_chat":
        print(
            f"error: --tools: only --engine tool_chat offers tools (not {args.engine})",
            file=sys.stderr,
        )
        return 2
    try:
        model = get_model(args.model) if args.model else default_model()[0]
        app = cli_application(f"worker-{args.engine}", args.log_dir)
    except LLMgineError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    await app.bootstrap()
    bus = app.message_bus
    engines: OrderedDict[str, Engine] = OrderedDict()
    tools = list(args.tools or [])

    async def new_engine(session_id: str) -> Engine:
        engine = engine_type(
            session_id=session_id, model=model, **_engine_kwargs(engine_type, args)
        )  # type: ignore[call-arg]
        if tools:
            await engine.register_tools(*tools)  # type: ignore[attr-defined]
        return engine

    async def handle(command: Command) -> CommandResult:
        session = command.session_id
        engine = engines.get(session)
        if engine is None:
            engine = engines[session] = await new_engine(session)
            if session != ROOT:  # this worker keeps the session: its engine has the history
                engine.register(bus)
            if len(engines) > _MAX_SESSIONS:
                old, _ = engines.popitem(last=False)
                bus.unregister_command_handler(engine_type.command_type, old)
        engines.move_to_end(session)
        return await engine.handle_announced(command)  # type: ignore[arg-type]

    try:
        try:
            await new_engine(ROOT)  # tools that cannot load fail now, not at the first command
            transport = RedisTransport(
                args.redis,
                node=args.node,
                events=WORKER_EVENTS,
                claim_after=args.claim_after,
                max_concurrency=args.max_concurrency,
            )
            bus.register_command_handler(engine_type.command_type, handle)
            watch_connection(bus, lambda line: _stderr(f"worker {transport.node}: {line}"))
            await bus.attach(transport)
        except LLMgineError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        print(
            f"worker {transport.node}: {engine_type.__name__} on {model.model_string}, "
            f"serving {engine_type.command_type.__name__} (Ctrl-C stops)",
            flush=True,
        )
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await stop.wait()
        return 0
    finally:
        await app.shutdown()


def run_worker(args: argparse.Namespace) -> int:
    """``llmgine worker``: serve until Ctrl-C or SIGTERM; the exit code."""
    try:
        return asyncio.run(_serve(args))
    except LLMgineError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


def _remote_messages(engine: str) -> tuple[type[Command], type[EngineStatusEvent]]:
    """The command a front end sends for ``engine``, and that engine's status event."""
    if engine == "single_pass":
        from llmgine.engines.single_pass_engine import (
            SinglePassEngineCommand,
            SinglePassEngineStatusEvent,
        )

        return SinglePassEngineCommand, SinglePassEngineStatusEvent
    from llmgine.engines.tool_chat_engine import ToolChatEngineCommand, ToolChatEngineStatusEvent

    return ToolChatEngineCommand, ToolChatEngineStatusEvent


async def _chat(args: argparse.Namespace, prompt: str | None, engine: str) -> int:
    from llmgine.distributed import RedisTransport, masked_url

    command_type, status_event = _remote_messages(engine)

    try:
        app = cli_application("chat-remote", args.log_dir)
    except LLMgineError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    await app.bootstrap()
    bus = app.message_bus
    try:
        try:
            await bus.attach(RedisTransport(args.redis, events=ENGINE_EVENTS))
        except LLMgineError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        session = new_id()  # this client's conversation, kept by the worker that answers it
        if prompt is not None:
            watch_connection(bus, _stderr)
            command = command_type(prompt=prompt, session_id=session)  # type: ignore[call-arg]
            return await _answer_once(bus, command, engine)
        from llmgine.cli import EngineCLI

        cli = EngineCLI(session, bus=bus)
        watch_connection(bus, cli.notice)
        cli.engine_command = command_type  # handled by a worker, not here
        cli.register_loading_event(status_event)
        cli.notice(f"connected to {masked_url(args.redis)}: the workers answer")
        await cli.main()
        return 0
    finally:
        await app.shutdown()


async def _answer_once(bus: Any, command: Command, engine: str = "tool_chat") -> int:
    streamed: list[str] = []

    def show(event: EngineTextDeltaEvent) -> None:
        streamed.append(event.text)
        sys.stdout.write(event.text)
        sys.stdout.flush()

    bus.register_event_handler(EngineTextDeltaEvent, show, session_id=command.session_id)
    result = await bus.execute(command)
    if streamed:
        print()
    if not result.success:
        hint = ""
        if (result.error or "").startswith("no node serves"):
            hint = f"; start one: llmgine worker --redis URL --engine {engine}"
        print(f"error: {result.error}{hint}", file=sys.stderr)
        return 1
    if not streamed:
        print(result.result)
    return 0


def refuse_worker_options(args: argparse.Namespace) -> None:
    """Refuse the options the workers own, for a front end run with ``--redis``.

    Raises:
        UsageError: one names them all (``--model, --tools: with --redis ...``), or
            the conversation options given (``--continue``...).
    """
    given = [flag for name, flag in _WORKER_OWNED if getattr(args, name, None)]
    if given:
        raise UsageError(
            f"{', '.join(given)}: with --redis the workers choose the model, system prompt "
            "and tools; pass them to `llmgine worker` (it takes --model, --system, --tools "
            "and --no-stream)"
        )
    stored = conversation_flags(args)
    if stored:
        raise UsageError(
            f"{', '.join(stored)}: with --redis a worker keeps each session's conversation "
            "in its memory; stored conversations are for an engine in this process"
        )


def run_remote_chat(args: argparse.Namespace, engine: str = "tool_chat") -> int:
    """``llmgine chat --redis URL``: the CLI (or one answer) with the engine on workers.

    ``llmgine ask --redis URL`` is ``engine="single_pass"`` (the command it sends).
    """
    try:
        refuse_worker_options(args)
        prompt = read_prompt(args)
    except UsageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
        return asyncio.run(_chat(args, prompt, engine))
    except KeyboardInterrupt:
        return 130
    except LLMgineError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
