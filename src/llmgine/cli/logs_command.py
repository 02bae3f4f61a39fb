"""``llmgine logs list | show | follow``: read the event logs as trees of turns.

``list`` sums up every run under ``--log-dir``; ``show`` draws one tree per
turn (command -> model calls -> tool calls, with durations, tokens, cost and
errors); ``follow`` draws a running log as it grows. Several files (several
processes) are merged by trace, so a turn served across processes is one tree.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.table import Table
from rich.text import Text
from rich.tree import Tree

from llmgine.observability.journal import (
    Entry,
    Journal,
    LogReader,
    Node,
    find_runs,
    is_top_level_command,
    run_files,
)

__all__ = ["add_arguments", "render_trees", "resolve_files", "run_logs"]

#: Shown only with --events: they are in every turn and say little on their own.
_QUIET = ("EngineStatusEvent", "DeltaEvent", "ToolRegisterEvent", "StatusEvent")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``logs`` subcommands and their options."""
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    for name, help_text in (
        ("list", "the runs under --log-dir, newest first"),
        ("show", "the turns of a run (default: the latest) as trees"),
        ("follow", "a running log (default: the latest), drawn as it grows"),
    ):
        sub = actions.add_parser(name, help=help_text, description=help_text)
        sub.add_argument("--log-dir", default="logs", help="where the logs are (default: logs)")
        if name == "list":
            sub.add_argument("--json", action="store_true", help="the list as JSON")
            continue
        sub.add_argument(
            "runs",
            nargs="*",
            metavar="RUN_OR_FILE",
            help="a run id (or its start), or a log file; several are merged into one forest",
        )
        sub.add_argument("--trace", help="only this trace (an id or its start)")
        sub.add_argument("--session", help="only this session")
        sub.add_argument("--type", action="append", default=[], help="only events of this type")
        sub.add_argument("--grep", help="only events whose line holds this text")
        sub.add_argument("--events", action="store_true", help="every event, statuses included")
        if name == "show":
            sub.add_argument("--json", action="store_true", help="the matching lines, raw")


def resolve_files(log_dir: str | Path, runs: list[str]) -> list[Path]:
    """The files of the runs named (files, run ids or their starts; none: the latest run).

    Raises:
        FileNotFoundError: nothing matches (the message says what there is).
    """
    known = run_files(log_dir)
    if not runs:
        newest = find_runs(log_dir)
        if not newest:
            raise FileNotFoundError(f"no logs under {log_dir!s}")
        return newest[0].files
    files: list[Path] = []
    for name in runs:
        path = Path(name)
        if path.is_file():
            files.append(path)
            continue
        matches = [
            run for run in known if run.startswith(name) or run.partition("-")[2].startswith(name)
        ]
        if len(matches) != 1:
            what = "no run" if not matches else f"{len(matches)} runs"
            raise FileNotFoundError(
                f"{what} under {log_dir!s} matches {name!r}; see `llmgine logs list`"
            )
        files += known[matches[0]]
    return files


def run_logs(args: argparse.Namespace, console: Console | None = None) -> int:
    """Run ``llmgine logs ACTION``; the exit code."""
    console = console or Console()
    if args.action == "list":
        return _list(args, console)
    try:
        files = resolve_files(args.log_dir, args.runs)
    except FileNotFoundError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.action == "follow":
        return _follow(args, files, console)
    journal = Journal.read(files)
    for problem in journal.problems:
        print(f"warning: {problem}", file=sys.stderr)
    selected = _select(journal, args)
    if args.json:
        for entry in selected:
            print(json.dumps(entry.data, ensure_ascii=False))
        return 0
    if not selected:
        console.print(Text("no events match", style="yellow"))
        return 0
    for renderable in render_trees(journal, journal.traces_of(selected), events=args.events):
        console.print(renderable)
    return 0


def _select(journal: Journal, args: argparse.Namespace) -> list[Entry]:
    return journal.select(trace=args.trace, session=args.session, types=args.type, grep=args.grep)


def _list(args: argparse.Namespace, console: Console) -> int:
    runs = find_runs(args.log_dir)
    if args.json:
        print(
            json.dumps(
                [
                    {
                        "run": r.run,
                        "started": r.started,
                        "engine": r.engine,
                        "models": r.models,
                        "turns": r.turns,
                        "tokens": r.tokens,
                        "cost_usd": r.cost_usd,
                        "files": [str(f) for f in r.files],
                    }
                    for r in runs
                ],
                indent=2,
            )
        )
        return 0
    if not runs:
        console.print(Text(f"no logs under {args.log_dir}", style="yellow"))
        return 0
    table = Table(title=f"Runs under {args.log_dir} (newest first)", title_justify="left")
    # The run id is what a user types next: never cut it.
    table.add_column("run", no_wrap=True, min_width=12)
    table.add_column("started (UTC)", no_wrap=True)
    for column in ("engine", "model", "turns", "tokens", "cost"):
        table.add_column(
            column, justify="right" if column in ("turns", "tokens", "cost") else "left"
        )
    for run in runs:
        table.add_row(
            run.run.partition("-")[2] or run.run,
            _when(run.started),
            run.engine or "-",
            ", ".join(run.models) or "-",
            str(run.turns),
            f"{run.tokens:,}",
            _cost(run.cost_usd),
        )
    console.print(table)
    return 0


# -- trees --------------------------------------------------------------------------------


def render_trees(
    journal: Journal, entries: list[Entry], *, events: bool = False
) -> list[RenderableType]:
    """One Rich tree per trace of ``entries`` (turns, run headers, lone events)."""
    out: list[RenderableType] = []
    for root in journal.trees(entries):
        if not events and _quiet(root.entry):
            continue
        tree = Tree(_label(root, journal))
        totals = _Totals()
        _add_children(tree, root, journal, events, totals)
        parts: list[RenderableType] = [tree]
        if totals.calls or totals.tools:
            parts.append(Text(f"   {totals}", style="dim"))
        out.append(Group(*parts))
    return out


class _Totals:
    def __init__(self) -> None:
        self.calls = self.tools = self.tokens = 0
        self.cost: float | None = None

    def __str__(self) -> str:
        return (
            f"{self.calls} model call(s), {self.tools} tool call(s), {self.tokens:,} tokens, "
            f"cost {_cost(self.cost)}"
        )


def _cost(cost: float | None) -> str:
    """A cost, or ``-`` when no call was priced (a local model, an unknown price)."""
    return "-" if cost is None else f"${cost:.4f}"


def _add_children(tree: Tree, node: Node, journal: Journal, events: bool, totals: _Totals) -> None:
    for child in node.children:
        kind = child.entry.type
        if kind in ("CommandResultEvent", "LLMResponseEvent", "ToolExecuteResultEvent"):
            continue  # shown on their start's line
        if not events and _quiet(child.entry):
            continue
        if kind == "LLMCallEvent":
            totals.calls += 1
            response = _child(child, "LLMResponseEvent")
            if response is not None:
                usage = response.get("usage") or {}
                totals.tokens += int(usage.get("total_tokens") or 0)
                if response.get("cost_usd") is not None:
                    totals.cost = (totals.cost or 0.0) + float(response.get("cost_usd"))
        elif kind == "ToolCallStartedEvent":
            totals.tools += 1
        branch = tree.add(_label(child, journal))
        _add_children(branch, child, journal, events, totals)


def _quiet(entry: Entry) -> bool:
    return any(entry.type.endswith(suffix) for suffix in _QUIET)


def _child(node: Node, kind: str) -> Entry | None:
    for child in node.children:
        if child.entry.type == kind:
            return child.entry
    return None


def _label(node: Node, journal: Journal) -> Text:
    entry = node.entry
    kind = entry.type
    if kind == "RunStartedEvent":
        engine = str(entry.get("engine", "")).rpartition(":")[2]
        tools = ", ".join(t.get("name", "?") for t in entry.get("tools") or []) or "none"
        return Text.assemble(
            ("run ", "bold"),
            (engine, "bold cyan"),
            f" · {', '.join(entry.get('models') or []) or 'no model'} · tools: {tools}",
            (f" · {_when(entry.timestamp)}", "dim"),
        )
    if kind == "CommandStartedEvent":
        return _command_label(node, entry)
    if kind == "LLMCallEvent":
        return _call_label(node, entry)
    if kind == "ToolCallStartedEvent":
        return _tool_label(node, entry)
    fields = {
        k: v
        for k, v in entry.data.items()
        if k not in ("event_type", "message_type", "event_id", "timestamp", "metadata")
        and k not in ("parent_id", "trace_id", "session_id", "engine_id")
        and v not in (None, "", [], {})
    }
    return Text.assemble((kind, "magenta"), " ", (_brief(fields, 120), "dim"))


def _command_label(node: Node, entry: Entry) -> Text:
    command = entry.get("command") or {}
    name = str(command.get("message_type", "Command")).rpartition(":")[2]
    prompt = command.get("prompt")
    label = Text.assemble(("▶ ", "bold"), (name, "bold"))
    if prompt is not None:
        label.append(f" {_brief(prompt, 80)}")
    result = _child(node, "CommandResultEvent")
    if result is not None:
        outcome = result.get("command_result") or {}
        took = _seconds(entry.timestamp, result.timestamp)
        if outcome.get("success"):
            label.append(f"  ✓ {took}", style="green")
            if outcome.get("result") not in (None, ""):
                label.append(f" → {_brief(outcome.get('result'), 80)}", style="dim")
        else:
            label.append(f"  ✗ {took} {_brief(outcome.get('error'), 160)}", style="red")
    return label


def _call_label(node: Node, entry: Entry) -> Text:
    provider, name = str(entry.get("provider") or ""), str(entry.get("model") or "")
    model = provider if name in ("", provider) else f"{provider}:{name}"  # as the run names it
    label = Text.assemble(("model ", "bold blue"), (model, "blue"))
    if int(entry.get("attempt") or 1) > 1:
        label.append(f" · attempt {entry.get('attempt')}")
    response = _child(node, "LLMResponseEvent")
    if response is None:
        label.append(" · no answer logged", style="yellow")
        return label
    label.append(f" · {float(response.get('duration_s') or 0):.2f} s")
    if response.get("error"):
        retry = " (retried)" if response.get("will_retry") else ""
        label.append(f" · ✗ {_brief(response.get('error'), 160)}{retry}", style="red")
        return label
    usage = response.get("usage") or {}
    label.append(f" · {int(usage.get('total_tokens') or 0):,} tokens")
    if response.get("cost_usd") is not None:
        label.append(f" · ${float(response.get('cost_usd')):.4f}")
    calls = response.get("tool_calls") or []
    if calls:
        names = ", ".join(str(c.get("name")) for c in calls if isinstance(c, dict))
        label.append(f" → calls {names}", style="dim")
    elif response.get("content"):
        label.append(f" → {_brief(response.get('content'), 80)}", style="dim")
    return label


def _tool_label(node: Node, entry: Entry) -> Text:
    arguments = json.dumps(entry.get("arguments"), ensure_ascii=False, default=str)
    label = Text.assemble(("tool ", "bold yellow"), (str(entry.get("tool_name")), "yellow"))
    label.append(f"({_brief(arguments, 100, quote=False)})")
    result = _child(node, "ToolExecuteResultEvent")
    if result is None:
        label.append(" · no result logged", style="yellow")
        return label
    took = f" · {float(result.get('duration_s') or 0):.3f} s"
    if result.get("is_error"):
        label.append(f"{took} · ✗ {_brief(result.get('result'), 120)}", style="red")
    else:
        label.append(f"{took} → {_brief(result.get('result'), 100)}", style="dim")
    return label


def _brief(value: Any, limit: int, quote: bool = True) -> str:
    if isinstance(value, str):
        text = json.dumps(value, ensure_ascii=False) if quote else value
    else:
        text = json.dumps(value, ensure_ascii=False, default=str)
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _seconds(start: str, end: str) -> str:
    try:
        took = (datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds()
    except ValueError:
        return ""
    return f"{took:.2f} s"


def _when(timestamp: str) -> str:
    try:
        return datetime.fromisoformat(timestamp).strftime("%Y-%m-%d %H:%M:%S")
    except ValueError:
        return timestamp or "-"


# -- follow --------------------------------------------------------------------------------


def _follow(args: argparse.Namespace, files: list[Path], console: Console) -> int:
    """Draw the log as it grows: each turn for good once it ends.

    On a terminal the turn still running is drawn too, redrawn as its events arrive.
    """
    shown: set[str] = set()
    reader = LogReader()  # each poll parses only the lines added since the last
    run = files[0].name.partition(".")[0]
    log_dir = files[0].parent
    live = (
        Live(console=console, transient=True, auto_refresh=False) if console.is_terminal else None
    )
    try:
        if live is not None:
            live.start()
        while True:
            current = run_files(log_dir).get(run) or files
            journal = reader.read(current)
            finished: list[Entry] = []
            running: list[Entry] = []
            for root in journal.trees(journal.traces_of(_select(journal, args))):
                if root.entry.id in shown:
                    continue
                ended = not is_top_level_command(root.entry) or any(
                    child.entry.type == "CommandResultEvent" for child in root.children
                )
                (finished if ended else running).append(root.entry)
            shown.update(entry.id for entry in finished)
            for renderable in render_trees(
                journal, journal.traces_of(finished), events=args.events
            ):
                console.print(renderable)
            if live is not None:
                live.update(Group(*render_trees(journal, journal.traces_of(running))), refresh=True)
            sys.stdout.flush()
            time.sleep(0.5)  # a viewer polling a file, not a test waiting for one
    except KeyboardInterrupt:
        return 0
    finally:
        if live is not None:
            live.stop()
