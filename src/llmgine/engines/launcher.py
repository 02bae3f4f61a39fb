"""Running an engine from the command line: ``python -m llmgine.engines.<engine>``.

Interactive by default (the Rich CLI); ``--prompt`` (or text piped on stdin)
answers once and exits, printing only the answer on stdout.
"""

from __future__ import annotations

import argparse
import asyncio
import inspect
import sys
from collections.abc import Sequence
from typing import Any

from llmgine.bootstrap import ApplicationBootstrap, ApplicationConfig
from llmgine.engines.base import Engine
from llmgine.engines.defaults import default_model
from llmgine.engines.messages import EngineTextDeltaEvent
from llmgine.errors import LLMgineError
from llmgine.llm.models.registry import get_model, known_providers

__all__ = ["build_parser", "cli_application", "main", "run"]


def cli_application(name: str, log_dir: str) -> ApplicationBootstrap[ApplicationConfig]:
    """The bus set-up of an engine command line: a JSONL log, no console lines.

    Console event lines would interleave with the UI, so only the file is
    written; LLMgine's own log records show from ERROR up.
    """
    return ApplicationBootstrap(
        ApplicationConfig(
            name=name,
            enable_console_handler=False,
            file_handler_log_dir=log_dir,
            log_level="error",
        )
    )


def build_parser(prog: str, description: str, with_tools: bool) -> argparse.ArgumentParser:
    """The command-line options every engine accepts."""
    parser = argparse.ArgumentParser(prog=prog, description=description)
    parser.add_argument(
        "--model",
        help="provider:model, e.g. openai:gpt-4.1-mini, anthropic:claude-haiku-4-5, test "
        "(default: the first provider whose API key is set, else the offline test model)",
    )
    parser.add_argument("--system", help="system prompt")
    if with_tools:
        parser.add_argument(
            "--tools",
            action="append",
            default=[],
            metavar="MODULE_OR_FILE",
            help="a module path or .py file of @tool functions (repeatable), e.g. tools/weather.py",
        )
    parser.add_argument(
        "--prompt", help="answer this prompt once and exit (text piped on stdin works too)"
    )
    parser.add_argument("--no-stream", action="store_true", help="wait for whole answers")
    parser.add_argument(
        "--log-dir", default="logs", help="where the JSONL event log goes (default: logs)"
    )
    return parser


def _engine_kwargs(engine_type: type[Engine], args: argparse.Namespace) -> dict[str, Any]:
    kwargs: dict[str, Any] = {"session_id": "cli", "stream": not args.no_stream}
    if args.system is not None:
        kwargs["system_prompt"] = args.system
    accepted = inspect.signature(engine_type).parameters
    return {key: value for key, value in kwargs.items() if key in accepted}


async def run(engine_type: type[Engine], args: argparse.Namespace, prompt: str | None) -> int:
    """Build the engine and run it once (``prompt``) or interactively; return the exit code."""
    try:
        model = get_model(args.model) if args.model else None
    except LLMgineError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    notice = None
    if model is None:
        model, notice = default_model()
    app = cli_application(engine_type.__name__, args.log_dir)
    await app.bootstrap()
    try:
        engine = engine_type(model=model, **_engine_kwargs(engine_type, args))  # type: ignore[call-arg]
        sources = getattr(args, "tools", None) or []
        if sources:
            try:
                await engine.register_tools(*sources)  # type: ignore[attr-defined]
            except LLMgineError as exc:
                print(f"error: {exc}", file=sys.stderr)
                return 2
        if prompt is not None:
            return await _answer_once(engine, prompt, notice)
        from llmgine.ui.cli import EngineCLI

        cli = EngineCLI(engine.session_id)
        cli.register_engine(engine)
        cli.register_engine_command(engine.command_type, engine.handle_command)
        cli.register_loading_event(engine.status_event_type)
        if notice:
            cli.console.print(f"[yellow]{notice}[/yellow]")
        await cli.main()
        return 0
    finally:
        await app.shutdown()


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


def main(engine_type: type[Engine], description: str, argv: Sequence[str] | None = None) -> None:
    """Parse the command line and run ``engine_type`` (exits with its code)."""
    parser = build_parser(
        _program_name(engine_type), description, with_tools=hasattr(engine_type, "register_tools")
    )
    parser.epilog = "known providers: " + ", ".join(known_providers())
    args = parser.parse_args(argv)
    prompt = args.prompt
    if prompt is None and not sys.stdin.isatty():
        prompt = sys.stdin.read().strip() or None
    try:
        code = asyncio.run(run(engine_type, args, prompt))
    except KeyboardInterrupt:
        code = 130
    except LLMgineError as exc:  # e.g. the bus could not save its events at exit
        print(f"error: {exc}", file=sys.stderr)
        code = 1
    sys.exit(code)


def _program_name(engine_type: type[Engine]) -> str:
    """How the user started the program: ``python -m pkg.mod`` or ``python path/to/file.py``."""
    main_module = sys.modules.get("__main__")
    spec = getattr(main_module, "__spec__", None)
    if engine_type.__module__ != "__main__":
        return f"python -m {engine_type.__module__}"
    if spec is not None and spec.name:
        return f"python -m {spec.name}"
    return f"python {sys.argv[0]}" if sys.argv and sys.argv[0] else "python"
