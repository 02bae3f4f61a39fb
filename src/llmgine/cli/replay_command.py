"""``llmgine replay LOG``: run a recorded run again, offline; did it go the same way?"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import sys
from typing import Any

from llmgine.cli.logs_command import resolve_files
from llmgine.engines.base import Engine
from llmgine.engines.replay import replay_log
from llmgine.errors import LLMgineError

__all__ = ["add_arguments", "run_replay"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``replay`` options."""
    parser.add_argument(
        "runs", nargs="*", metavar="RUN_OR_FILE", help="the run (default: the latest)"
    )
    parser.add_argument("--log-dir", default="logs", help="where the logs are (default: logs)")
    parser.add_argument(
        "--live-tools",
        action="append",
        default=None,
        metavar="MODULE_FILE_OR_FOLDER",
        help="run these tools for real (repeatable; default: answer tool calls from the log)",
    )
    parser.add_argument(
        "--engine",
        metavar="MODULE:CLASS",
        help="the engine class, when the log's is not one of LLMgine's (it is imported)",
    )


def _engine(name: str | None) -> type[Engine] | None:
    if not name:
        return None
    module, _, attribute = name.partition(":")
    try:
        found: Any = getattr(importlib.import_module(module), attribute)
    except (ImportError, AttributeError) as exc:
        raise LLMgineError(f"--engine {name}: cannot import it ({exc})") from exc
    if not (isinstance(found, type) and issubclass(found, Engine)):
        raise LLMgineError(f"--engine {name} is not an Engine class")
    return found


def run_replay(args: argparse.Namespace) -> int:
    """Replay; 0 when the events match, 1 when they diverge, 2 when the log cannot be replayed."""
    try:
        files = resolve_files(args.log_dir, args.runs)
        engine = _engine(args.engine)
        outcome = asyncio.run(replay_log(files, live_tools=args.live_tools, engine=engine))
    except (FileNotFoundError, LLMgineError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    names = ", ".join(str(f) for f in files)
    if outcome.matched and not outcome.unplayed:
        print(f"replayed {outcome.commands} command(s) of {names}: the events match")
        return 0
    print(f"replayed {outcome.commands} command(s) of {names}: the events diverge")
    for error in outcome.errors:
        print(f"  a replayed command failed: {error}")
    for note in outcome.unplayed:
        print(f"  recorded but never asked for: {note}")
    if outcome.diff:
        print("\n".join(outcome.diff))
    return 1
