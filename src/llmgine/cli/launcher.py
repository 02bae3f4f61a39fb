"""Running an engine from the command line (``llmgine chat``, ``python -m llmgine.engines.X``).

Interactive when stdin and stdout are a terminal (the Rich CLI); ``--prompt``
(or text piped on stdin) answers once and exits, printing only the answer on
stdout. Usage errors (no prompt, a bad model name, an unwritable log
directory, tools that cannot load) are one ``error:`` line and exit code 2; a
failed answer is one line and exit code 1.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import inspect
import sys
import threading
from collections.abc import Sequence
from typing import Any

from llmgine._version import __version__
from llmgine.bootstrap import ApplicationBootstrap, ApplicationConfig
from llmgine.cli.conversation_options import add_conversation_options, open_conversation
from llmgine.engines.base import Engine
from llmgine.engines.defaults import default_model, missing_key_warning
from llmgine.engines.messages import EngineTextDeltaEvent
from llmgine.errors import LLMgineError
from llmgine.models.interface import Model
from llmgine.models.registry import get_model, known_providers
from llmgine.observability.file import ensure_log_dir
from llmgine.observability.plugins import load_observer

__all__ = [
    "UsageError",
    "add_engine_options",
    "add_observer_option",
    "build_engine",
    "build_parser",
    "cli_application",
    "engine_kwargs",
    "import_in_background",
    "main",
    "missing_key_warning",
    "model_from_args",
    "read_prompt",
    "run",
    "run_command",
    "takes_conversations",
]


class UsageError(LLMgineError):
    """The command line cannot run as given (exit code 2); the message says why."""


#: A string longer than this (characters) goes to a file beside the command line's log.
SPILL_BYTES = 1_000_000


def cli_application(
    name: str, log_dir: str, observers: Sequence[str] = ()
) -> ApplicationBootstrap[ApplicationConfig]:
    """The bus set-up of an engine command line: a JSONL log, no console lines.

    Console event lines would interleave with the UI, so only the file is
    written (a value past :data:`SPILL_BYTES` in a file beside it, so a line
    stays readable); LLMgine's own log records show from ERROR up. ``observers`` are
    plugin names (``--observer``), loaded here so a bad one is a usage error.

    Raises:
        ConfigurationError: ``log_dir`` cannot be written (the message names it).
        ObserverPluginError: an observer is not installed or cannot start.
    """
    ensure_log_dir(log_dir)
    return ApplicationBootstrap(
        ApplicationConfig(
            name=name,
            enable_console_handler=False,
            file_handler_log_dir=log_dir,
            file_handler_spill_bytes=SPILL_BYTES,
            log_level="error",
            observers=[load_observer(observer) for observer in observers],
        )
    )


def add_engine_options(
    parser: argparse.ArgumentParser,
    *,
    with_tools: bool,
    with_prompt: bool = True,
    with_conversations: bool = False,
) -> None:
    """Add the options every engine's command line accepts to ``parser``.

    Args:
        parser: Where the options go.
        with_tools: Add ``--tools`` (and the MCP options).
        with_prompt: Add ``--prompt`` (a one-shot answer); a server has none.
        with_conversations: Add ``--continue``, ``--conversation``, ``--db``
            and ``--no-save`` (engines that take ``conversation_id=``).
    """
    parser.add_argument(
        "--model",
        help="provider:model, e.g. openai:gpt-4.1-mini, anthropic:claude-haiku-4-5, demo "
        "(default: the first provider whose API key is set, else the offline demo model)",
    )
    parser.add_argument("--system", help="system prompt")
    if with_tools:
        parser.add_argument(
            "--tools",
            action="append",
            default=[],
            metavar="MODULE_FILE_OR_FOLDER",
            help="@tool functions to offer (repeatable): a module path, a .py file or a "
            "folder of them, e.g. tools/weather.py or tools",
        )
        from llmgine.cli.mcp_command import add_mcp_options

        add_mcp_options(parser)
    if with_prompt:
        parser.add_argument(
            "--prompt", help="answer this prompt once and exit (text piped on stdin works too)"
        )
    parser.add_argument("--no-stream", action="store_true", help="wait for whole answers")
    parser.add_argument(
        "--timeout",
        type=float,
        metavar="SECONDS",
        help="seconds each model call may take before it is retried or fails (default: 120)",
    )
    parser.add_argument(
        "--log-dir", default="logs", help="where the JSONL event log goes (default: logs)"
    )
    add_observer_option(parser)
    if with_conversations:
        add_conversation_options(parser)
    parser.add_argument("--version", action="version", version=f"llmgine {__version__}")


def add_observer_option(parser: argparse.ArgumentParser) -> None:
    """Add ``--observer NAME`` (repeatable): an observability plugin to enable."""
    parser.add_argument(
        "--observer",
        action="append",
        default=[],
        metavar="NAME",
        help="also send every event to this observability plugin (repeatable): a name "
        "declared under the llmgine.observers entry points, e.g. console or otel",
    )


def build_parser(
    prog: str, description: str, with_tools: bool, with_conversations: bool = False
) -> argparse.ArgumentParser:
    """The command line of an engine (``python -m ...`` or ``llmgine chat``)."""
    parser = argparse.ArgumentParser(
        prog=prog,
        description=description,
        epilog="known providers: " + ", ".join(known_providers()),
    )
    add_engine_options(parser, with_tools=with_tools, with_conversations=with_conversations)
    return parser


def read_prompt(args: argparse.Namespace) -> str | None:
    """The one-shot prompt (``--prompt`` or piped stdin), or None to run interactively.

    Raises:
        UsageError: the prompt is empty, or there is no prompt and no terminal
            to run the interactive CLI in.
    """
    if args.prompt is not None:
        text = args.prompt
    elif not sys.stdin.isatty():
        text = sys.stdin.read()
    elif not sys.stdout.isatty():
        raise UsageError(
            "no prompt given, and stdout is not a terminal for the interactive CLI: pass "
            "--prompt TEXT or pipe the prompt on stdin"
        )
    else:
        return None
    if not text.strip():
        raise UsageError("no prompt given")
    return text.strip()


def import_in_background(model: Model) -> threading.Thread | None:
    """Import ``model``'s provider SDK in a thread, while the user types the first message.

    ``import openai`` takes seconds on a slow machine; done here, the first
    answer does not wait for it. Returns the thread (None when nothing to do).
    """
    module = getattr(model, "provider_module", None)
    if not module or module in sys.modules:
        return None

    def load() -> None:
        try:
            importlib.import_module(module)
        except Exception:  # noqa: S110 - the first call reports it properly
            pass

    thread = threading.Thread(target=load, name="llmgine-sdk-import", daemon=True)
    thread.start()
    return thread


def engine_kwargs(
    engine_type: type[Engine], args: argparse.Namespace, session_id: str = "cli"
) -> dict[str, Any]:
    """The constructor arguments of ``engine_type`` that the parsed ``args`` give.

    ``session_id`` and streaming (``--no-stream``), and ``--system`` when it was
    given; only those the engine's constructor takes.
    """
    kwargs: dict[str, Any] = {"session_id": session_id, "stream": not args.no_stream}
    if args.system is not None:
        kwargs["system_prompt"] = args.system
    accepted = inspect.signature(engine_type).parameters
    return {key: value for key, value in kwargs.items() if key in accepted}


def takes_conversations(engine_type: type[Engine]) -> bool:
    """Whether the engine can keep its conversation in the store (takes ``conversation_id=``)."""
    return "conversation_id" in inspect.signature(engine_type).parameters


def model_from_args(args: argparse.Namespace) -> tuple[Model, str | None]:
    """The model the command line asks for (or the default) and a notice to show.

    The notice is the offline model's, when no ``--model`` is given and no API
    key is set; ``--timeout`` is applied to the model.

    Raises:
        UnknownModelError: ``--model`` names no known provider.
    """
    if args.model:
        model, notice = get_model(args.model), None
    else:
        model, notice = default_model()
    if getattr(args, "timeout", None) is not None:
        model.timeout = args.timeout
    return model, notice


async def build_engine(
    engine_type: type[Engine],
    args: argparse.Namespace,
    model: Model,
    session_id: str = "cli",
    extra_sources: Sequence[Any] = (),
    extra_kwargs: dict[str, Any] | None = None,
) -> Engine:
    """An ``engine_type`` for the parsed ``args``, its tools and ``extra_sources`` registered.

    Args:
        engine_type: The engine class.
        args: The parsed command line.
        model: Its model.
        session_id: Its session.
        extra_sources: More tool sources (MCP servers).
        extra_kwargs: More constructor arguments (a stored conversation's).

    Raises:
        LLMgineError: the engine cannot be made, the tools cannot be loaded or
            an MCP server cannot start (the message says which and why); what
            was started is closed.
    """
    kwargs = {**engine_kwargs(engine_type, args, session_id), **(extra_kwargs or {})}
    engine = engine_type(model=model, **kwargs)  # type: ignore[call-arg]
    sources = [*(getattr(args, "tools", None) or []), *extra_sources]
    if sources:
        try:
            await engine.register_tools(*sources)  # type: ignore[attr-defined]
        except BaseException:
            close = getattr(engine, "close", None)
            if close is not None:  # MCP servers it started are stopped
                await close()
            raise
    return engine


async def run(engine_type: type[Engine], args: argparse.Namespace, prompt: str | None) -> int:
    """Build the engine and run it once (``prompt``) or interactively; return the exit code."""
    from llmgine.cli.mcp_command import mcp_servers, watch_mcp_status

    try:
        model, notice = model_from_args(args)
        app = cli_application(engine_type.__name__, args.log_dir, getattr(args, "observer", ()))
        servers = mcp_servers(args)
        conversation = open_conversation(args) if takes_conversations(engine_type) else None
    except LLMgineError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    await app.bootstrap()
    engine: Engine | None = None
    try:
        stored = conversation.engine_kwargs() if conversation is not None else {}
        try:
            engine = await build_engine(
                engine_type, args, model, extra_sources=servers, extra_kwargs=stored
            )
        except LLMgineError as exc:  # tools, MCP servers, a conversation deleted meanwhile
            print(f"error: {exc}", file=sys.stderr)
            return 2
        if prompt is not None:  # MCP trouble on stderr: stdout is only the answer
            watch_mcp_status(engine.bus, engine.session_id, _to_stderr, quiet=True)
            return await _answer_once(engine, prompt, notice)
        import_in_background(model)
        from llmgine.cli import EngineCLI

        cli = EngineCLI(engine.session_id)
        cli.register_engine(engine)
        cli.register_engine_command(engine.command_type, engine.handle_announced)
        cli.register_loading_event(engine.status_event_type)
        watch_mcp_status(engine.bus, engine.session_id, cli.print_info)
        # A one-shot run reports a missing key as its error; here, warn before the typing.
        about = conversation.describe(engine) if conversation is not None else None
        for line in (notice, missing_key_warning(model), about):
            if line:
                cli.notice(line)
        await cli.main()
        return 0
    finally:
        close = getattr(engine, "close", None)
        if close is not None:  # MCP servers it started are stopped
            await close()
        await app.shutdown()


def _to_stderr(line: str) -> None:
    print(line, file=sys.stderr)


async def _answer_once(engine: Engine, prompt: str, notice: str | None) -> int:
    if notice:
        print(notice, file=sys.stderr)
    streamed: list[str] = []

    def show(event: EngineTextDeltaEvent) -> None:
        streamed.append(event.text)
        sys.stdout.write(event.text)
        sys.stdout.flush()

    engine.bus.register_event_handler(EngineTextDeltaEvent, show, session_id=engine.session_id)
    result = await engine.execute(prompt)
    if not result.success:
        if streamed:
            print()
        print(f"error: {result.error}", file=sys.stderr)
        return 1
    if streamed:
        print()
    else:
        print(result.result)
    return 0


def run_command(engine_type: type[Engine], args: argparse.Namespace) -> int:
    """Run ``engine_type`` for parsed ``args``; the exit code (130 after Ctrl-C)."""
    try:
        prompt = read_prompt(args)
    except UsageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
        return asyncio.run(run(engine_type, args, prompt))
    except KeyboardInterrupt:
        return 130
    except LLMgineError as exc:  # e.g. the bus could not save its events at exit
        print(f"error: {exc}", file=sys.stderr)
        return 1


def main(
    engine_type: type[Engine],
    description: str,
    argv: Sequence[str] | None = None,
    prog: str | None = None,
) -> None:
    """Parse the command line and run ``engine_type`` (exits with its code)."""
    parser = build_parser(
        prog or _program_name(engine_type),
        description,
        with_tools=hasattr(engine_type, "register_tools"),
        with_conversations=takes_conversations(engine_type),
    )
    sys.exit(run_command(engine_type, parser.parse_args(argv)))


def _program_name(engine_type: type[Engine]) -> str:
    """How the user started the program: ``python -m pkg.mod`` or ``python path/to/file.py``."""
    main_module = sys.modules.get("__main__")
    spec = getattr(main_module, "__spec__", None)
    if engine_type.__module__ != "__main__":
        return f"python -m {engine_type.__module__}"
    if spec is not None and spec.name:
        return f"python -m {spec.name}"
    return f"python {sys.argv[0]}" if sys.argv and sys.argv[0] else "python"
