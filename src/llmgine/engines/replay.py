"""Running a recorded run again from its log, offline, and comparing what happens.

:func:`replay_log` rebuilds each engine the log started (from its
``RunStartedEvent``), answers its model calls from the log
(:class:`~llmgine.models.replay.ReplayModel`, by request hash) and its tool
calls too (or runs live tools), executes the recorded commands again, and
compares the two runs' event trees with ids, times and durations left out.
Engines are found by name among the classes defined in this process; a log
never makes anything be imported.
"""

from __future__ import annotations

import difflib
import json
from collections import defaultdict, deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from llmgine.bus.bus import MessageBus
from llmgine.context.memory import InMemoryContextManager
from llmgine.engines import consortium, single_pass_engine, tool_chat_engine  # noqa: F401 - known
from llmgine.engines.base import ENGINES, Engine
from llmgine.errors import ConfigurationError, LLMgineError
from llmgine.memory.replayed import RecordedRecallContext
from llmgine.messages.commands import Command
from llmgine.messages.events import Event
from llmgine.models.replay import ReplayModel
from llmgine.observability.base import ObservabilityEventHandler
from llmgine.observability.journal import Entry, Journal, Node, is_top_level_command
from llmgine.tools.result import RecordedResult
from llmgine.tools.tool_call import ToolCall

__all__ = ["ReplayOutcome", "normalised_tree", "recorded_tools", "replay_log"]

#: Fields that differ between two runs of the same thing: ids, times, the journal's links.
VARYING = frozenset(
    {
        "event_id",
        "command_id",
        "timestamp",
        "metadata",
        "parent_id",
        "trace_id",
        "duration_s",
        "call_id",
        "engine_id",
        "tool_manager_id",
        "context_manager_id",
        "call_seq",
        "prefix_call_id",
        "prefix_messages",
        "messages",
        "tool_schemas",
        "llmgine_version",
        "python",
    }
)


@dataclass
class ReplayOutcome:
    """What a replay found.

    Attributes:
        matched: The replayed run's events are the recorded run's.
        diff: A unified diff of the two (normalised) event trees, when they differ.
        errors: The errors of replayed commands that failed.
        commands: How many recorded commands were run again.
        unplayed: Recorded model calls the replay never asked for.
    """

    matched: bool
    diff: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    commands: int = 0
    unplayed: list[str] = field(default_factory=list)


class _Recorder(ObservabilityEventHandler):
    """Keeps every event the replay publishes, as the log would have it."""

    def __init__(self) -> None:
        super().__init__()
        self.entries: list[Entry] = []

    def handle(self, event: Event) -> None:
        self.entries.append(Entry(self.event_to_dict(event), Path("<replay>"), len(self.entries)))


def recorded_tools(journal: Journal) -> Callable[[ToolCall], RecordedResult | None]:
    """A source of recorded tool results for ``ToolManager.answer_from``.

    A call is answered with the result recorded for the same tool and call id,
    in the order they were recorded.
    """
    results: dict[tuple[str, str], deque[RecordedResult]] = defaultdict(deque)
    for entry in journal.entries:
        if entry.type == "ToolExecuteResultEvent":
            key = (str(entry.get("tool_name")), str(entry.get("tool_call_id")))
            results[key].append(
                RecordedResult(
                    arguments=entry.get("arguments"),
                    content=str(entry.get("result") or ""),
                    is_error=bool(entry.get("is_error")),
                    error_type=entry.get("error_type"),
                )
            )

    def answer(call: ToolCall) -> RecordedResult | None:
        queue = results.get((call.name, call.id))
        return queue.popleft() if queue else None

    return answer


def _scrub(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _scrub(v) for k, v in value.items() if k not in VARYING}
    if isinstance(value, list):
        return [_scrub(item) for item in value]
    return value


#: Set-up, not behaviour: a replay offers recorded tools without registering functions.
SET_UP = frozenset({"ToolRegisterEvent"})


#: Streamed text comes in pieces that need not be cut the same way twice.
DELTAS = frozenset({"EngineTextDeltaEvent", "EngineThinkingDeltaEvent"})


def normalised_tree(node: Node, depth: int = 0) -> list[str]:
    """A tree as lines with what varies between runs left out (children in a stable order).

    Consecutive text (or thinking) deltas of one parent count as one: a stream
    cut into other pieces says the same thing.
    """
    data = {k: v for k, v in node.entry.data.items() if k not in ("event_type", "message_type")}
    line = "  " * depth + f"{node.entry.type} {json.dumps(_scrub(data), sort_keys=True)}"
    children = sorted(
        (normalised_tree(child, depth + 1) for child in _joined_deltas(node.children)),
        key=str,
    )
    return [line] + [text for child in children for text in child]


def _joined_deltas(children: list[Node]) -> list[Node]:
    joined: list[Node] = []
    for child in children:
        kind = child.entry.type
        if kind in SET_UP:
            continue
        last = joined[-1] if joined else None
        if kind in DELTAS and last is not None and last.entry.type == kind and not child.children:
            data = dict(last.entry.data)
            data["text"] = str(data.get("text") or "") + str(child.entry.get("text") or "")
            joined[-1] = Node(Entry(data, last.entry.file, last.entry.line))
        else:
            joined.append(child)
    return joined


def _runs(journal: Journal) -> list[Entry]:
    return [e for e in journal.entries if e.type == "RunStartedEvent" and not e.parent_id]


def _engine_class(run: Entry, explicit: type[Engine] | None) -> type[Engine]:
    if explicit is not None:
        return explicit
    name = str(run.get("engine") or "")
    found = ENGINES.get(name)
    if found is None:
        raise ConfigurationError(
            f"the log's engine {name} is not defined in this process: give it with --engine "
            "module:Class (or import it before replaying)"
        )
    return found


def _model_for(journal: Journal, cache: dict[str, ReplayModel], strict: bool) -> Any:
    def model_for(model: str) -> ReplayModel:
        if model not in cache:
            provider, sep, name = model.partition(":")
            cache[model] = ReplayModel(
                journal, provider=provider, name=name if sep else provider, strict=strict
            )
        return cache[model]

    return model_for


def _recall_from_the_log(engine: Engine, journal: Journal, run: Entry, memory: Any) -> None:
    """Give ``engine`` a context that recalls, at each turn, what the recorded run recalled."""
    context = getattr(engine, "context", None)
    if not isinstance(context, InMemoryContextManager):
        return
    session = run.get("session_id")
    recalls = [
        entry.data
        for entry in journal.entries
        if entry.type == "MemoryRecallEvent" and entry.get("session_id") == session
    ]
    replayed = RecordedRecallContext(
        context.engine_id,
        context.session_id,
        recalls=recalls,
        settings=dict(memory) if isinstance(memory, dict) else {},
        events=engine.bus,
    )
    replayed.set_system_prompt(context.system_prompt)
    replayed.chat_history.extend(context.chat_history)
    engine.context = replayed  # type: ignore[attr-defined]


def _recorded_commands(journal: Journal, run: Entry, engine: Engine) -> list[Entry]:
    wanted = engine.command_type._message_type
    return [
        e
        for e in journal.entries
        if is_top_level_command(e)
        and e.get("session_id") == run.get("session_id")
        and (e.get("command") or {}).get("message_type") == wanted
    ]


async def replay_log(
    paths: Iterable[str | Path],
    *,
    live_tools: Sequence[Any] | None = None,
    engine: type[Engine] | None = None,
    strict: bool = True,
) -> ReplayOutcome:
    """Run the log's recorded commands again, offline, and compare the two runs.

    Args:
        paths: The run's log files.
        live_tools: Tool sources to run for real (default: answer tool calls
            from the log).
        engine: The engine class, when the log's is not defined here.
        strict: A model request the log does not hold fails (else it is asked
            of no one and still fails: there is no live model).

    Raises:
        ConfigurationError: the log cannot be replayed (no run in it, an
            unknown engine, unreadable lines); the message says why.
    """
    journal = Journal.read(paths)
    if journal.problems:
        raise ConfigurationError(
            f"the log has unreadable lines ({len(journal.problems)}; first: {journal.problems[0]})"
        )
    runs = _runs(journal)
    if not runs:
        raise ConfigurationError(
            "the log has no RunStartedEvent: it was not written by an engine run "
            "(or its first lines are missing)"
        )
    bus = MessageBus()
    recorder = _Recorder()
    bus.register_observability_handler(recorder)
    outcome = ReplayOutcome(matched=True)
    models: dict[str, ReplayModel] = {}
    try:
        for run in runs:
            rebuilt = _engine_class(run, engine).rebuild(
                dict(run.get("settings") or {}),
                model_for=_model_for(journal, models, strict),
                models=[str(m) for m in run.get("models") or []],
                session_id=str(run.get("session_id") or "ROOT"),
            )
            memory = (run.get("settings") or {}).get("memory")
            if memory:
                _recall_from_the_log(rebuilt, journal, run, memory)
            manager = getattr(rebuilt, "tool_manager", None)
            if manager is not None and live_tools is None:
                for schema in run.get("tools") or []:
                    await manager.register_schema(schema)
                manager.answer_from(recorded_tools(journal))
            elif live_tools:
                await rebuilt.register_tools(*live_tools)  # type: ignore[attr-defined]
            await rebuilt.announce()
            for entry in _recorded_commands(journal, run, rebuilt):
                command = Command.from_dict(entry.get("command"))
                result = await bus.run_handler(command, rebuilt.handle_command)
                outcome.commands += 1
                if not result.success:
                    outcome.errors.append(result.error or "the command failed")
    except LLMgineError:
        raise
    finally:
        bus.unregister_observability_handler(recorder)
    recorded = _forest(journal, journal.entries, runs)
    replayed_journal = Journal(recorder.entries, [])
    replayed = _forest(replayed_journal, recorder.entries, _runs(replayed_journal))
    if recorded != replayed:
        outcome.matched = False
        outcome.diff = list(
            difflib.unified_diff(recorded, replayed, "recorded", "replayed", lineterm="")
        )
    for model in models.values():
        if model.remaining:
            outcome.unplayed.append(f"{model.model_string}: {model.remaining} call(s)")
    return outcome


def _forest(journal: Journal, entries: list[Entry], runs: list[Entry]) -> list[str]:
    """The run headers and the traces of their sessions' top-level commands, normalised."""
    sessions = {run.get("session_id") for run in runs}
    lines: list[str] = []
    for tree in journal.trees(entries):
        root = tree.entry
        if root.type == "RunStartedEvent" or (
            is_top_level_command(root) and root.get("session_id") in sessions
        ):
            lines += normalised_tree(tree)
    return lines
