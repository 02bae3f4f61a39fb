"""``llmgine web``: the engines' chat in a browser page, served on this machine.

Takes the options of ``llmgine chat`` (``--model``, ``--tools``, ``--system``,
``--log-dir``...), ``--engine`` to pick the engine, the consortium's options
for ``--engine consortium``, and where to listen (``--host 127.0.0.1`` by
default, ``--port``). Each browser tab gets its own engine in its own bus
session. The tool-chat engine's conversations are stored as ``llmgine chat``
stores them (``--db PATH``, ``--no-save``, ``--memory``): each new tab starts
a new one, the page lists them, and ``/?conversation=ID`` (or ``--continue``,
``--conversation ID``, which put it in the printed URL) continues one. With
``--redis URL`` no engine runs here: each tab's prompts go to
``llmgine worker --redis URL`` processes as the engine's command, and the
page renders the events they send back (the workers choose the model, the
system prompt and the tools, so those options are refused). The server
prints the page's URL with a fresh access token, as Jupyter does; every
request needs it. Usage errors (a bad model, tools that cannot load, a port
in use, Redis unreachable, the ``web`` extra missing) are one ``error:`` line
and exit code 2.
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import secrets
import signal
import sys
from typing import TYPE_CHECKING, Any

from llmgine.cli.consortium import add_consortium_options, consortium_from_args
from llmgine.cli.conversation_options import (
    add_conversation_options,
    conversation_flags,
    open_conversation,
)
from llmgine.cli.launcher import (
    UsageError,
    add_engine_options,
    build_engine,
    cli_application,
    model_from_args,
    takes_conversations,
)
from llmgine.context.conversations import ConversationStore
from llmgine.engines.base import Engine
from llmgine.engines.defaults import missing_key_warning
from llmgine.errors import LLMgineError

if TYPE_CHECKING:
    from llmgine.web.driver import EngineDriver

__all__ = ["ENGINE_NAMES", "DESCRIPTION", "WebEngines", "add_arguments", "run_web"]

DESCRIPTION = (
    "Serve the chat in a browser page: answers streamed live, tool panels, approvals, Stop, "
    "and a live trace view of each turn. Listens on 127.0.0.1 unless --host says otherwise; "
    "the URL it prints carries the access token every request needs."
)
#: ``--engine`` choices.
ENGINE_NAMES = ("tool_chat", "single", "consortium")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add ``llmgine web``'s options to ``parser``."""
    parser.add_argument(
        "--engine",
        choices=ENGINE_NAMES,
        default="tool_chat",
        help="the engine each tab talks to (default: tool_chat)",
    )
    add_engine_options(parser, with_tools=True, with_prompt=False)
    parser.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to listen on (default: 127.0.0.1, this machine only; 0.0.0.0 opens "
        "the page to the network, still behind the token)",
    )
    parser.add_argument(
        "--port", type=int, default=8000, help="port to listen on (default: 8000; 0: a free one)"
    )
    parser.add_argument(
        "--redis",
        metavar="URL",
        help="send each tab's messages to `llmgine worker` processes on this Redis "
        "(redis://host:6379/0) instead of running the engine here",
    )
    parser.add_argument(
        "--approval-timeout",
        type=float,
        default=120.0,
        metavar="SECONDS",
        help="seconds a tool approval waits for an answer in the page, then it is denied "
        "(default: 120)",
    )
    parser.add_argument(
        "--idle-timeout",
        type=float,
        default=900.0,
        metavar="SECONDS",
        help="seconds a tab's session is kept after it disconnects, so it can reconnect "
        "(default: 900)",
    )
    add_conversation_options(parser)
    consortium = parser.add_argument_group("consortium", "with --engine consortium")
    add_consortium_options(consortium)


class WebEngines:
    """Makes each tab's engine from the parsed command line (the same engine each time).

    Models and tools are resolved once, here, so a bad name fails at start
    and not in the first tab.

    Args:
        args: The parsed options.

    Raises:
        UsageError: options that do not go together (``--tools`` with the consortium...).
        LLMgineError: a model is unknown or the tools cannot be loaded.
        ValueError: a consortium option is malformed.
    """

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.kind = args.engine
        self.notices: list[str] = []
        self.tools: list[Any] = []
        self.redis: str | None = getattr(args, "redis", None)
        self.store: ConversationStore | None = None
        self.memory: Any = None
        #: The conversation the printed URL opens (``--continue``, ``--conversation``).
        self.start_conversation: str | None = None
        if self.redis:
            self._on_workers(args)
            return
        mcp_flags = (
            ("--mcp", getattr(args, "mcp", None)),
            ("--mcp-url", getattr(args, "mcp_url", None)),
            ("--mcp-config", getattr(args, "mcp_config", None)),
        )
        if self.kind == "consortium":
            for flag, value in (("--tools", args.tools), ("--model", args.model), *mcp_flags):
                if value:
                    raise UsageError(f"{flag} does not apply to --engine consortium (use --member)")
            engine, notice, warnings = consortium_from_args(args, "web")
            self.engine_type: type[Engine] = type(engine)
            self.title = f"ConsortiumEngine · {engine.strategy.name}"
            self.notices = [line for line in (notice, *warnings) if line]
            self._open_store(args)  # refuses the conversation options: none is stored
            return
        if args.member or args.arbiter:
            raise UsageError("--member and --arbiter need --engine consortium")
        self.engine_type = _engine_type(self.kind)
        for flag, value in (("--tools", args.tools), *mcp_flags):
            if value and not hasattr(self.engine_type, "register_tools"):
                raise UsageError(f"{flag} needs --engine tool_chat ({self.kind} calls no tools)")
        from llmgine.cli.mcp_command import mcp_servers

        mcp_servers(args)  # a bad command, URL or config file fails now, not in a tab
        self.model, notice = model_from_args(args)
        self.tools = _load_tools(args.tools)
        self.title = f"{self.engine_type.__name__} · {self.model.model_string}"
        self.notices = [line for line in (notice, missing_key_warning(self.model)) if line]
        self._open_store(args)

    def _open_store(self, args: argparse.Namespace) -> None:
        """The conversations store of ``--db`` (unless ``--no-save``), and the one to open."""
        if not takes_conversations(self.engine_type):
            refused = [flag for flag in conversation_flags(args) if flag != "--no-save"]
            if refused:
                raise UsageError(
                    f"{', '.join(refused)}: {self.kind} keeps no stored conversations "
                    "(use --engine tool_chat)"
                )
            return
        conversation = open_conversation(args)
        self.store, self.memory = conversation.store, conversation.memory
        self.start_conversation = conversation.conversation_id
        if conversation.nothing_to_continue and self.store is not None:
            self.notices.append(
                f"Nothing to continue in {self.store.path}: each tab starts a new conversation."
            )

    def close(self) -> None:
        """Close the conversations store (the server stopped)."""
        if self.store is not None:
            self.store.close()
            self.store = None

    def _on_workers(self, args: argparse.Namespace) -> None:
        """``--redis``: the workers' engine, refusing the options the workers own."""
        from llmgine.cli.distributed import refuse_worker_options
        from llmgine.distributed import masked_url

        if self.kind == "consortium":
            raise UsageError(
                "--engine consortium runs in this process only: `llmgine worker` serves "
                "tool_chat and single_pass; with --redis use --engine tool_chat or single"
            )
        if args.member or args.arbiter:
            raise UsageError("--member and --arbiter need --engine consortium")
        refuse_worker_options(args)  # the conversation options too
        self.engine_type = _engine_type(self.kind)
        self.where = masked_url(str(self.redis))
        self.title = f"{self.engine_type.__name__} · workers on {self.where}"

    async def create(
        self, session_id: str, conversation_id: str | None = None
    ) -> Engine | EngineDriver:
        """A new engine for the tab of ``session_id`` (or the workers' with ``--redis``).

        Args:
            session_id: The tab's bus session.
            conversation_id: A stored conversation to continue (its id or the start of it).

        Raises:
            ConversationNotFoundError: no stored conversation has that id.
            ConversationsUnavailableError: conversations are not stored here.
            LLMgineError: the engine cannot be made (an MCP server...).
        """
        if conversation_id is not None and self.store is None:
            from llmgine.web.registry import ConversationsUnavailableError

            why = "--redis: the workers keep the conversations" if self.redis else "--no-save"
            if not self.redis and not takes_conversations(self.engine_type):
                why = f"--engine {self.kind} keeps none"
            raise ConversationsUnavailableError(
                f"this server stores no conversations ({why}), so it cannot open "
                f"{conversation_id!r}"
            )
        if self.redis:
            from llmgine.web.driver import RemoteEngine

            return RemoteEngine(self.engine_type.command_type, where=self.where)
        if self.kind == "consortium":
            return consortium_from_args(self.args, session_id)[0]
        from llmgine.cli.mcp_command import mcp_servers

        args = copy.copy(self.args)
        args.tools = self.tools  # loaded once: each tab registers the same functions
        stored: dict[str, Any] = {}
        if self.store is not None:  # each tab a conversation of its own in the one store
            stored = {"db": self.store, "conversation_id": conversation_id}
            if self.memory is not None:
                stored["memory"] = self.memory
        # Each tab starts MCP servers of its own (closed with its engine): tabs share nothing.
        return await build_engine(
            self.engine_type,
            args,
            self.model,
            session_id,
            extra_sources=mcp_servers(self.args),
            extra_kwargs=stored,
        )


def _engine_type(kind: str) -> type[Engine]:
    if kind == "single":
        from llmgine.engines.single_pass_engine import SinglePassEngine

        return SinglePassEngine
    from llmgine.engines.tool_chat_engine import ToolChatEngine

    return ToolChatEngine


def _load_tools(sources: list[Any]) -> list[Any]:
    """The ``@tool`` functions of ``--tools``, each checked to make a valid tool."""
    if not sources:
        return []
    from llmgine.tools.definition import tool_options
    from llmgine.tools.loading import collect_tools
    from llmgine.tools.schema import build_tool

    functions = collect_tools(sources)
    for function in functions:
        build_tool(function, tool_options(function))
    return functions


def run_web(args: argparse.Namespace) -> int:
    """Run ``llmgine web`` for parsed ``args``; the exit code (130 after Ctrl-C)."""
    try:
        import llmgine.web  # noqa: F401 - needs the web extra
    except ImportError as exc:
        print(
            f"error: llmgine web needs the web extra ({exc.name or exc} is not installed): "
            "pip install 'llmgine[web]'",
            file=sys.stderr,
        )
        return 2
    try:
        engines = WebEngines(args)
        app = cli_application(engines.engine_type.__name__, args.log_dir)
    except (LLMgineError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    previous = _exit_on_signals()
    try:
        return asyncio.run(_serve(args, engines, app))
    except KeyboardInterrupt:
        return 130
    except LLMgineError as exc:  # e.g. the bus could not save its events at exit
        print(f"error: {exc}", file=sys.stderr)
        return 1
    finally:
        engines.close()
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def _exit_on_signals() -> dict[int, Any]:
    """Make Ctrl-C and SIGTERM end the server after its shutdown: sessions closed, bus stopped.

    Uvicorn shuts down on either, then raises it again as it returns. By
    default SIGTERM would then end the process before the bus is stopped, and
    asyncio's own Ctrl-C handler would cancel the server's task in the middle
    of its shutdown (leaving a Redis transport attached, whose loops keep
    ``asyncio.run`` from ending). Here each becomes an exception raised where
    uvicorn raises the signal, so the shutdown runs to its end. Returns the
    handlers it replaced (none when this is not the main thread).
    """

    def terminate(signum: int, frame: Any) -> None:
        raise SystemExit(128 + signum)

    def interrupt(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    previous: dict[int, Any] = {}
    try:
        previous[signal.SIGTERM] = signal.signal(signal.SIGTERM, terminate)
        previous[signal.SIGINT] = signal.signal(signal.SIGINT, interrupt)
    except ValueError:  # not the main thread: signals are not ours to handle
        pass
    return previous


async def _serve(args: argparse.Namespace, engines: WebEngines, app: Any) -> int:
    from llmgine.web import WebSettings, bind_socket, create_app, is_loopback, serve, url_host

    try:
        sock = bind_socket(args.host, args.port)
    except OSError as exc:
        print(f"error: cannot listen on {args.host}:{args.port} ({exc})", file=sys.stderr)
        return 2
    token = secrets.token_urlsafe(32)
    settings = WebSettings(
        token=token,
        log_dir=args.log_dir,
        title=engines.title,
        notices=engines.notices,
        approval_timeout=args.approval_timeout,
        idle_timeout=args.idle_timeout,
        loopback_only=is_loopback(args.host),
    )
    await app.bootstrap()
    try:
        transport = None
        if engines.redis:
            from llmgine.distributed import RedisTransport
            from llmgine.engines.ui_events import UI_EVENTS

            transport = RedisTransport(engines.redis, events=UI_EVENTS)
            try:  # before the URL is printed: an unreachable Redis is a usage error
                await app.message_bus.attach(transport)
            except LLMgineError as exc:
                print(f"error: {exc}", file=sys.stderr)
                return 2
        web_app = create_app(
            engines.create, settings, transport=transport, conversations=engines.store
        )
        for line in engines.notices:
            print(line, file=sys.stderr)
        if not settings.loopback_only:
            print(
                f"warning: listening on {args.host}: the page is reachable from the network "
                "(anyone with the URL's token can use it)",
                file=sys.stderr,
            )
        print(f"LLMgine web: {engines.title}", flush=True)
        opens = f"&conversation={engines.start_conversation}" if engines.start_conversation else ""
        print(f"    http://{url_host(sock)}/?token={token}{opens}", flush=True)
        if engines.store is not None:
            print(f"Conversations are stored in {engines.store.path}.", flush=True)
        print("Open the URL above in a browser; Ctrl-C stops the server.", flush=True)
        await serve(web_app, sock)
        return 0
    finally:
        sock.close()
        await app.shutdown()
