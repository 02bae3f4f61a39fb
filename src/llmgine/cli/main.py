"""The ``llmgine`` command and its subcommands.

``chat``, ``ask``, ``consortium``, ``web``, ``conversations``, ``logs``, ``replay``, ``models``,
``worker`` and ``mcp serve``. Each subcommand mirrors a launcher: ``llmgine chat`` is ``python -m
llmgine.engines.tool_chat_engine`` (same options), ``llmgine ask`` the
single-pass engine, ``llmgine consortium`` the consortium engine; ``llmgine
web`` serves any of them in a browser page (:mod:`llmgine.web`). Engines and
their SDKs are imported only by the subcommand that runs them, so ``llmgine
--help`` and ``llmgine models`` answer at once.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

from llmgine._version import __version__

__all__ = ["build_parser", "main"]

_CHAT = "Chat with a model that can call tools (the tool-chat engine)."
_ASK = "Answer with one model call per prompt (the single-pass engine)."
_CONVERSATIONS = (
    "The stored conversations of llmgine chat: list them, show one, delete one "
    "(continue one with llmgine chat --continue or --conversation ID)."
)
_LOGS = "Read the event logs: list the runs, show a run's turns as trees, follow a running log."
_REPLAY = (
    "Run a logged run again offline (models and tools answered from the log) and compare "
    "the events: exit 0 when they match, 1 when they diverge."
)
_MCP = "Model Context Protocol: serve LLMgine tools to MCP clients."
_MCP_SERVE = (
    "Serve the @tool functions of a file, folder or module as an MCP server (stdio by "
    "default, or streamable HTTP with --http PORT)."
)
_MODELS = (
    "List the providers and model presets, which API keys are set (and where from), "
    "and the model used when --model is not given; --check asks each configured model "
    "for one word and shows which answer."
)


def _chat(args: argparse.Namespace) -> int:
    if args.redis:
        from llmgine.cli.distributed import run_remote_chat

        return run_remote_chat(args)
    from llmgine.cli.launcher import run_command
    from llmgine.engines.tool_chat_engine import ToolChatEngine

    return run_command(ToolChatEngine, args)


def _ask(args: argparse.Namespace) -> int:
    if args.redis:
        from llmgine.cli.distributed import run_remote_chat

        return run_remote_chat(args, engine="single_pass")
    from llmgine.cli.launcher import run_command
    from llmgine.engines.single_pass_engine import SinglePassEngine

    return run_command(SinglePassEngine, args)


def _consortium(args: argparse.Namespace) -> int:
    from llmgine.cli.consortium import run_command

    return run_command(args)


def _web(args: argparse.Namespace) -> int:
    from llmgine.cli.web_command import run_web

    return run_web(args)


def _conversations(args: argparse.Namespace) -> int:
    from llmgine.cli.conversations_command import run_conversations

    return run_conversations(args)


def _logs(args: argparse.Namespace) -> int:
    from llmgine.cli.logs_command import run_logs

    return run_logs(args)


def _replay(args: argparse.Namespace) -> int:
    from llmgine.cli.replay_command import run_replay

    return run_replay(args)


def _worker(args: argparse.Namespace) -> int:
    from llmgine.cli.distributed import run_worker

    return run_worker(args)


def _mcp_serve(args: argparse.Namespace) -> int:
    from llmgine.cli.mcp_command import serve_command

    return serve_command(args)


def _models(args: argparse.Namespace) -> int:
    if args.check or args.check_models:
        from llmgine.cli.models_check import run_check

        return run_check(args.check_models, timeout=args.timeout, as_json=args.json)
    from llmgine.cli.models_command import show_models

    return show_models(as_json=args.json)


def build_parser() -> argparse.ArgumentParser:
    """The ``llmgine`` command line with its subcommands."""
    from llmgine.cli.consortium import DESCRIPTION, add_arguments
    from llmgine.cli.distributed import WORKER, add_worker_arguments
    from llmgine.cli.launcher import add_engine_options
    from llmgine.models.registry import known_providers

    parser = argparse.ArgumentParser(
        prog="llmgine",
        description="LLMgine: event-driven LLM engines from the command line.",
        epilog="Run 'llmgine COMMAND --help' for the options of a command.",
    )
    parser.add_argument("--version", action="version", version=f"llmgine {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    epilog = "known providers: " + ", ".join(known_providers())

    def add(
        name: str, description: str, run: Callable[[argparse.Namespace], int]
    ) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=description, description=description, epilog=epilog)
        sub.set_defaults(run=run)
        return sub

    chat = add("chat", _CHAT, _chat)
    add_engine_options(chat, with_tools=True, with_conversations=True)
    chat.add_argument(
        "--redis",
        metavar="URL",
        help="send the messages to `llmgine worker` processes on this Redis (redis://host:6379/0)",
    )
    ask = add("ask", _ASK, _ask)
    add_engine_options(ask, with_tools=False)
    ask.add_argument(
        "--redis",
        metavar="URL",
        help="send the prompts to single-pass `llmgine worker` processes on this Redis",
    )
    add_arguments(add("consortium", DESCRIPTION, _consortium))
    from llmgine.cli import conversations_command, logs_command, replay_command, web_command

    web_command.add_arguments(add("web", web_command.DESCRIPTION, _web))

    conversations_command.add_arguments(add("conversations", _CONVERSATIONS, _conversations))
    logs_command.add_arguments(add("logs", _LOGS, _logs))
    replay_command.add_arguments(add("replay", _REPLAY, _replay))
    models = add("models", _MODELS, _models)
    models.add_argument("--json", action="store_true", help="print the listing as JSON")
    models.add_argument(
        "--check",
        action="store_true",
        help="send one tiny request to each configured model (its key set), in parallel, "
        "and show which answer",
    )
    models.add_argument(
        "--model",
        dest="check_models",
        action="append",
        default=[],
        metavar="PROVIDER:MODEL",
        help="check this model (repeatable; implies --check)",
    )
    models.add_argument(
        "--timeout",
        type=float,
        default=20.0,
        metavar="SECONDS",
        help="seconds each model has to answer the check (default: 20)",
    )
    models.add_argument("--version", action="version", version=f"llmgine {__version__}")
    add_worker_arguments(add("worker", WORKER, _worker))

    mcp = commands.add_parser("mcp", help=_MCP, description=_MCP)
    mcp.set_defaults(run=lambda _args: _usage(mcp))
    serve = mcp.add_subparsers(dest="mcp_command", metavar="COMMAND").add_parser(
        "serve", help=_MCP_SERVE, description=_MCP_SERVE
    )
    serve.set_defaults(run=_mcp_serve)
    from llmgine.cli.mcp_command import add_serve_arguments

    add_serve_arguments(serve)
    return parser


def _usage(parser: argparse.ArgumentParser) -> int:
    parser.print_help(sys.stderr)
    return 2


def main(argv: Sequence[str] | None = None) -> None:
    """Run the ``llmgine`` command (exits with the subcommand's code)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help(sys.stderr)
        sys.exit(2)
    sys.exit(args.run(args))


if __name__ == "__main__":
    main()
