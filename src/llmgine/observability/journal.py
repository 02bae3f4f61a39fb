"""Reading event logs back: runs, trace trees, whole model requests.

A log is the JSONL files one :class:`~llmgine.observability.file.FileEventHandler`
wrote (``<UTC time>-<run id>.jsonl``, then ``.2.jsonl``... past a size cap).
Lines are read as plain dicts: reading a log never needs, or imports, the
classes that wrote it. Several runs (several processes) read together merge
into one forest: every message names its parent, so a trace is one tree
wherever its events were written.

Unreadable lines are reported (``file:line: why``) and skipped.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from llmgine.observability.blobs import BLOB_KEY, resolve_blobs

__all__ = [
    "Entry",
    "Journal",
    "LogReader",
    "Node",
    "RunSummary",
    "find_runs",
    "is_top_level_command",
    "run_files",
    "summarize",
]

_PART = re.compile(r"^(?P<run>.+?)(?:\.(?P<part>\d+))?\.jsonl$")


@dataclass
class Entry:
    """One line of a log: the event's dict, and where it was read."""

    data: dict[str, Any]
    file: Path
    line: int

    @property
    def type(self) -> str:
        """The event's class name (``event_type``)."""
        return str(self.data.get("event_type") or self.data.get("message_type", "?"))

    @property
    def id(self) -> str:
        """The event's id."""
        return str(self.data.get("event_id") or "")

    @property
    def parent_id(self) -> str | None:
        """The id of the message being handled when it was made, if any."""
        value = self.data.get("parent_id")
        return str(value) if value else None

    @property
    def trace_id(self) -> str:
        """Its trace."""
        return str(self.data.get("trace_id") or self.id)

    @property
    def timestamp(self) -> str:
        """When it was made (ISO 8601; sorts in time order)."""
        return str(self.data.get("timestamp") or "")

    def get(self, key: str, default: Any = None) -> Any:
        """A field of the event."""
        return self.data.get(key, default)


@dataclass
class Node:
    """An event of a trace tree and the events made while it was handled."""

    entry: Entry
    children: list[Node] = field(default_factory=list)

    def walk(self) -> Iterator[Node]:
        """This node, then every node below it, depth first."""
        yield self
        for child in self.children:
            yield from child.walk()


class Journal:
    """The events of one or more log files, in the order they were written.

    Args:
        entries: The lines read.
        problems: ``"file:line: why"`` for each line that could not be read.
    """

    def __init__(self, entries: list[Entry], problems: list[str]) -> None:
        self.entries = entries
        self.problems = problems
        self.by_id = {entry.id: entry for entry in entries if entry.id}
        self._messages: dict[str, list[dict[str, Any]]] = {}
        self._calls: dict[str, list[Entry]] = defaultdict(list)
        self._responses: dict[str, list[Entry]] = defaultdict(list)
        self._children: dict[str, list[Entry]] | None = None
        for entry in entries:
            if entry.type == "LLMCallEvent":
                self._calls[str(entry.get("call_id"))].append(entry)
            elif entry.type == "LLMResponseEvent":
                self._responses[str(entry.get("call_id"))].append(entry)

    @classmethod
    def read(cls, paths: Iterable[str | Path]) -> Journal:
        """Read log files (a run's parts, or several runs)."""
        return LogReader().read(paths, final=True)

    # -- trees -------------------------------------------------------------------------

    def trees(self, entries: Iterable[Entry] | None = None) -> list[Node]:
        """Trace trees of ``entries`` (default: all): roots in time order, children too.

        A root is an event whose parent is not among the entries (none, or
        written to a log not read).
        """
        chosen = list(self.entries if entries is None else entries)
        nodes: dict[str, Node] = {}
        for entry in chosen:
            node = Node(entry)
            if entry.id:
                nodes[entry.id] = node
            command_id = _command_id(entry)
            if command_id:  # a command is not logged itself: its start event stands for it
                nodes.setdefault(command_id, node)
        roots: list[Node] = []
        for entry in chosen:
            node = nodes.get(entry.id) or Node(entry)
            parent = nodes.get(_parent_of(entry) or "")
            if parent is None or parent is node:
                roots.append(node)
            else:
                parent.children.append(node)
        for node in nodes.values():
            node.children.sort(key=lambda child: child.entry.timestamp)
        roots.sort(key=lambda root: root.entry.timestamp)
        return roots

    def children_of(self, entry: Entry) -> list[Entry]:
        """The entries whose parent is ``entry``, in the order they were written."""
        if self._children is None:
            self._children = defaultdict(list)
            for child in self.entries:
                parent = _parent_of(child)
                if parent:
                    self._children[parent].append(child)
        return list(self._children.get(entry.id, []))

    def select(
        self,
        *,
        trace: str | None = None,
        session: str | None = None,
        types: Iterable[str] = (),
        grep: str | None = None,
    ) -> list[Entry]:
        """The entries that pass every filter given (ids match by prefix)."""
        wanted = set(types)
        chosen = []
        for entry in self.entries:
            if trace and not entry.trace_id.startswith(trace):
                continue
            if session and entry.get("session_id") != session:
                continue
            if wanted and entry.type not in wanted:
                continue
            if grep and grep not in json.dumps(entry.data, ensure_ascii=False):
                continue
            chosen.append(entry)
        return chosen

    def traces_of(self, entries: Iterable[Entry]) -> list[Entry]:
        """Every entry of the traces ``entries`` belong to (so a tree shows whole)."""
        traces = {entry.trace_id for entry in entries}
        return [entry for entry in self.entries if entry.trace_id in traces]

    # -- model calls -------------------------------------------------------------------

    def request_messages(self, call: Entry) -> list[dict[str, Any]]:
        """The whole conversation an ``LLMCallEvent`` sent (its prefix call's, then its own).

        Raises:
            KeyError: the prefix call is not in the log.
        """
        call_id = str(call.get("call_id") or call.id)
        cached = self._messages.get(call_id)
        if cached is not None:
            return cached
        messages = list(call.get("messages") or [])
        prefix_id = call.get("prefix_call_id")
        if prefix_id:
            prefix_call = self.first_call(str(prefix_id))
            if prefix_call is None:
                raise KeyError(f"the log has no call {prefix_id} (the prefix of {call_id})")
            head = self.request_messages(prefix_call)[: int(call.get("prefix_messages") or 0)]
            messages = head + messages
        self._messages[call_id] = messages
        return messages

    def request_tools(self, call: Entry) -> list[dict[str, Any]] | None:
        """The tool schemas an ``LLMCallEvent`` sent (from its prefix call when unchanged)."""
        if call.get("tool_schemas") is not None or not call.get("prefix_call_id"):
            return call.get("tool_schemas")
        prefix_call = self.first_call(str(call.get("prefix_call_id")))
        return self.request_tools(prefix_call) if prefix_call is not None else None

    def first_call(self, call_id: str) -> Entry | None:
        """The first ``LLMCallEvent`` (attempt) of a call."""
        calls = self._calls.get(call_id)
        return calls[0] if calls else None

    def attempts(self, call_id: str) -> list[tuple[Entry, Entry | None]]:
        """Each attempt of a call: its ``LLMCallEvent`` and its ``LLMResponseEvent`` (if logged)."""
        by_attempt = {int(r.get("attempt") or 1): r for r in self._responses.get(call_id, [])}
        return [
            (call, by_attempt.get(int(call.get("attempt") or 1)))
            for call in self._calls.get(call_id, [])
        ]

    def calls(self) -> list[Entry]:
        """The first ``LLMCallEvent`` of every call, in the order they were made."""
        firsts = [attempts[0] for attempts in self._calls.values()]
        return sorted(firsts, key=lambda e: (int(e.get("call_seq") or 0), e.timestamp))


def _command_id(entry: Entry) -> str | None:
    if entry.type != "CommandStartedEvent":
        return None
    command = entry.get("command")
    return str(command.get("command_id")) if isinstance(command, dict) else None


def _parent_of(entry: Entry) -> str | None:
    """The parent in the tree: a command start event's is its command's parent."""
    if entry.type == "CommandStartedEvent":
        command = entry.get("command")
        if isinstance(command, dict):
            return str(command["parent_id"]) if command.get("parent_id") else None
    return entry.parent_id


def is_top_level_command(entry: Entry) -> bool:
    """Whether ``entry`` starts a turn: a command started outside any other message."""
    return entry.type == "CommandStartedEvent" and _parent_of(entry) is None


# -- runs --------------------------------------------------------------------------------


@dataclass
class RunSummary:
    """What ``llmgine logs list`` shows of a run."""

    run: str
    files: list[Path]
    started: str = ""
    engine: str = ""
    models: list[str] = field(default_factory=list)
    turns: int = 0
    tokens: int = 0
    cost_usd: float | None = None  # None: no call of the run was priced
    problems: int = 0


def run_files(log_dir: str | Path) -> dict[str, list[Path]]:
    """The log files under ``log_dir`` by run (parts in order)."""
    runs: dict[str, list[tuple[int, Path]]] = defaultdict(list)
    for path in Path(log_dir).glob("*.jsonl"):
        match = _PART.match(path.name)
        if match is None:
            continue
        runs[match["run"]].append((int(match["part"] or 1), path))
    return {run: [path for _, path in sorted(parts)] for run, parts in runs.items()}


def summarize(run: str, files: list[Path]) -> RunSummary:
    """The start, engine, models, turns, tokens and cost of one run."""
    journal = Journal.read(files)
    summary = RunSummary(run, files, problems=len(journal.problems))
    if journal.entries:
        summary.started = min(entry.timestamp for entry in journal.entries)
    for entry in journal.entries:
        if entry.type == "RunStartedEvent" and not summary.engine:
            summary.engine = str(entry.get("engine", "")).rpartition(":")[2]
            summary.models = [str(m) for m in entry.get("models") or []]
        elif is_top_level_command(entry):
            summary.turns += 1
        elif entry.type == "LLMResponseEvent":
            usage = entry.get("usage") or {}
            summary.tokens += int(usage.get("total_tokens") or 0)
            if entry.get("cost_usd") is not None:
                summary.cost_usd = (summary.cost_usd or 0.0) + float(entry.get("cost_usd"))
    if not summary.models:
        calls = [e for e in journal.entries if e.type == "LLMCallEvent"]
        summary.models = sorted({f"{e.get('provider')}:{e.get('model')}" for e in calls})
    return summary


def find_runs(log_dir: str | Path) -> list[RunSummary]:
    """Every run under ``log_dir``, newest first."""
    summaries = [summarize(run, files) for run, files in run_files(log_dir).items()]
    return sorted(summaries, key=lambda s: (s.started, s.run), reverse=True)


class LogReader:
    """Reads log files as they grow: each :meth:`read` parses only what was added.

    What ``llmgine logs follow`` polls with: the lines read before are kept,
    not read again. A last line still being written (no newline yet) waits
    for the next read; a file that got shorter (replaced) is read again from
    its start.
    """

    def __init__(self) -> None:
        self._offsets: dict[Path, int] = {}
        self._partial: dict[Path, bytes] = {}
        self._lines: dict[Path, int] = {}
        self._entries: dict[Path, list[Entry]] = {}
        self._problems: dict[Path, list[str]] = {}

    def read(self, paths: Iterable[str | Path], *, final: bool = False) -> Journal:
        """The journal of ``paths`` now, in the order given.

        ``final``: nothing more is coming, so a last line without its newline
        is read too.
        """
        order: list[Path] = []
        for path in map(Path, paths):
            order.append(path)
            self._read_new(path, final)
        entries = [entry for path in order for entry in self._entries.get(path, [])]
        problems = [problem for path in order for problem in self._problems.get(path, [])]
        return Journal(entries, problems)

    def _read_new(self, path: Path, final: bool) -> None:
        offset = self._offsets.get(path, 0)
        try:
            with path.open("rb") as file:
                size = file.seek(0, 2)
                if size < offset:  # replaced by a shorter file: start again
                    self._forget(path)
                    offset = 0
                file.seek(offset)
                data = file.read()
        except OSError as exc:
            self._forget(path)
            self._problems[path] = [f"{path}: cannot be read ({exc.strerror or exc})"]
            return
        self._offsets[path] = offset + len(data)
        chunk = self._partial.pop(path, b"") + data
        lines = chunk.split(b"\n")
        rest = lines.pop()  # after the last newline: a line being written, or nothing
        if rest and final:
            lines.append(rest)
        elif rest:
            self._partial[path] = rest
        entries = self._entries.setdefault(path, [])
        problems = self._problems.setdefault(path, [])
        number = self._lines.get(path, 0)
        for raw in lines:
            number += 1
            line = raw.decode("utf-8", errors="replace")
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                problems.append(f"{path}:{number}: not JSON ({exc.msg})")
                continue
            if not isinstance(record, dict):
                problems.append(f"{path}:{number}: not an event (a JSON {type(record).__name__})")
                continue
            if BLOB_KEY in line:  # values kept beside the log, read back in their place
                record = resolve_blobs(record, path, problems, f"{path}:{number}")
            entries.append(Entry(record, path, number))
        self._lines[path] = number

    def _forget(self, path: Path) -> None:
        for kept in (self._offsets, self._partial, self._lines, self._entries, self._problems):
            kept.pop(path, None)
