"""The trace view's trees as JSON: command -> model calls -> tool calls, from the journal.

The same trees ``llmgine logs show`` draws, for a page: built with
:class:`~llmgine.observability.journal.Journal` from the lines of a log file,
or from a session's events as they arrive (:class:`LiveTrace`). A start and
its end are one node (a model call and its response, a tool call and its
result, a command and its result), with the duration, tokens, cost and
error; statuses and streamed pieces are left out.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from datetime import datetime
from pathlib import Path
from typing import Any

from llmgine.observability.journal import Entry, Journal, Node

__all__ = ["TRACED_TYPES", "LiveTrace", "node_json", "trees_json"]

#: The events a tree is made of (the live trace keeps only these).
TRACED_TYPES = frozenset(
    {
        "RunStartedEvent",
        "CommandStartedEvent",
        "CommandResultEvent",
        "LLMCallEvent",
        "LLMResponseEvent",
        "ToolCallStartedEvent",
        "ToolExecuteResultEvent",
        "ConsortiumMemberEvent",
        "ConsortiumIterationEvent",
        "ConsortiumCombineEvent",
        "EventHandlerFailedEvent",
    }
)
# Shown on the line of the event they finish.
_ENDS = {
    "CommandStartedEvent": "CommandResultEvent",
    "LLMCallEvent": "LLMResponseEvent",
    "ToolCallStartedEvent": "ToolExecuteResultEvent",
}
_QUIET_SUFFIXES = (
    "StatusEvent",
    "DeltaEvent",
    "ToolRegisterEvent",
    "SessionStartEvent",
    "SessionEndEvent",
)


def trees_json(
    journal: Journal, entries: list[Entry] | None = None, *, unended: str = "running"
) -> list[dict[str, Any]]:
    """One JSON tree per root of ``entries`` (default: the whole journal), in time order.

    Args:
        journal: The events.
        entries: Which of them (default: all).
        unended: The status of a start whose end is not there: ``"running"``
            for a live session, ``"unfinished"`` for a log read afterwards.
    """
    trees = [node_json(root) for root in journal.trees(entries) if not _quiet(root.entry)]
    if unended != "running":
        for tree in trees:
            _restate(tree, "running", unended)
    return trees


def _restate(node: dict[str, Any], old: str, new: str) -> None:
    if node["status"] == old:
        node["status"] = new
    for child in node["children"]:
        _restate(child, old, new)


def node_json(node: Node) -> dict[str, Any]:
    """A node and what it caused, as the page draws it.

    Keys: ``id``, ``kind`` (``command``, ``model``, ``tool``, ``run``,
    ``member``, ``round``, ``combine``, ``event``), ``title``, ``detail``,
    ``status`` (``ok``, ``error``, ``running``; see :func:`trees_json`),
    ``duration_s``, ``tokens``, ``cost_usd``, ``children``; a command also has ``totals`` (its model
    calls, tool calls, tokens and cost).
    """
    entry = node.entry
    end = _child(node, _ENDS.get(entry.type, ""))
    out: dict[str, Any] = {
        "id": entry.id,
        "type": entry.type,
        "kind": "event",
        "title": entry.type,
        "detail": "",
        "status": "ok",
        "duration_s": None,
        "tokens": None,
        "cost_usd": None,
        "timestamp": entry.timestamp,
    }
    describe = _DESCRIBE.get(entry.type, _describe_event)
    describe(out, entry, end)
    children = [child for child in node.children if _shown(child, entry)]
    out["children"] = [node_json(child) for child in _latest_states(children)]
    if entry.type == "CommandStartedEvent":
        out["totals"] = _totals(node)
    return out


def _shown(child: Node, parent: Entry) -> bool:
    if child.entry.type == _ENDS.get(parent.type):
        return False
    return not _quiet(child.entry)


def _quiet(entry: Entry) -> bool:
    return entry.type.endswith(_QUIET_SUFFIXES)


def _latest_states(children: list[Node]) -> list[Node]:
    """Consortium members and combiners report ``started`` then an outcome: keep the newest."""
    kept: OrderedDict[tuple[str, ...], Node] = OrderedDict()
    for child in children:
        entry = child.entry
        key: tuple[str, ...]
        if entry.type == "ConsortiumMemberEvent":
            key = (entry.type, str(entry.get("label")), str(entry.get("stage")))
        elif entry.type == "ConsortiumCombineEvent":
            key = (entry.type, str(entry.get("model")))
        else:
            key = (entry.id or str(id(child)),)
        kept.pop(key, None)
        kept[key] = child
    return list(kept.values())


def _child(node: Node, kind: str) -> Entry | None:
    for child in node.children:
        if child.entry.type == kind:
            return child.entry
    return None


def _totals(node: Node) -> dict[str, Any]:
    calls = tools = tokens = 0
    cost: float | None = None
    for item in node.walk():
        entry = item.entry
        if entry.type == "ToolCallStartedEvent":
            tools += 1
        elif entry.type == "LLMResponseEvent":
            calls += 1
            tokens += int((entry.get("usage") or {}).get("total_tokens") or 0)
            if entry.get("cost_usd") is not None:
                cost = (cost or 0.0) + float(entry.get("cost_usd"))
    return {"model_calls": calls, "tool_calls": tools, "tokens": tokens, "cost_usd": cost}


# -- one kind of node each ------------------------------------------------------------------


def _describe_command(out: dict[str, Any], entry: Entry, end: Entry | None) -> None:
    command = entry.get("command") or {}
    out["kind"] = "command"
    out["title"] = str(command.get("message_type", "Command")).rpartition(":")[2]
    prompt = command.get("prompt")
    if prompt is None and command.get("tool_name"):  # an approval asked during the turn
        prompt = command.get("tool_name")
    out["detail"] = brief(prompt, 200) if prompt is not None else ""
    if end is None:
        out["status"] = "running"
        return
    outcome = end.get("command_result") or {}
    out["duration_s"] = _seconds(entry.timestamp, end.timestamp)
    if outcome.get("success"):
        if outcome.get("result") not in (None, ""):
            out["result"] = brief(outcome.get("result"), 300)
    else:
        out["status"] = "error"
        out["error"] = brief(outcome.get("error"), 300)


def _describe_call(out: dict[str, Any], entry: Entry, end: Entry | None) -> None:
    provider, name = str(entry.get("provider") or ""), str(entry.get("model") or "")
    out["kind"] = "model"
    out["title"] = provider if name in ("", provider) else f"{provider}:{name}"
    if int(entry.get("attempt") or 1) > 1:
        out["title"] += f" · attempt {entry.get('attempt')}"
    out["detail"] = f"{len(entry.get('messages') or [])} new message(s)"
    if entry.get("tools"):
        out["detail"] += f" · tools: {', '.join(str(t) for t in entry.get('tools'))}"
    if end is None:
        out["status"] = "running"
        return
    out["duration_s"] = float(end.get("duration_s") or 0)
    if end.get("error"):
        out["status"] = "error"
        retry = " (retried)" if end.get("will_retry") else ""
        out["error"] = brief(end.get("error"), 300) + retry
        return
    usage = end.get("usage") or {}
    out["tokens"] = int(usage.get("total_tokens") or 0)
    out["usage"] = {k: v for k, v in usage.items() if isinstance(v, int) and v}
    out["cost_usd"] = end.get("cost_usd")
    calls = [c for c in end.get("tool_calls") or [] if isinstance(c, dict)]
    if calls:
        out["result"] = "calls " + ", ".join(str(c.get("name")) for c in calls)
    elif end.get("content"):
        out["result"] = brief(end.get("content"), 300)


def _describe_tool(out: dict[str, Any], entry: Entry, end: Entry | None) -> None:
    out["kind"] = "tool"
    out["title"] = str(entry.get("tool_name") or "tool")
    out["detail"] = brief(entry.get("arguments"), 200, quote=False)
    if end is None:
        out["status"] = "running"
        return
    out["duration_s"] = float(end.get("duration_s") or 0)
    if end.get("is_error"):
        out["status"] = "error"
        out["error"] = brief(end.get("result"), 300, quote=False)
        if end.get("error_type"):
            out["error_type"] = str(end.get("error_type"))
    else:
        out["result"] = brief(end.get("result"), 300, quote=False)


def _describe_run(out: dict[str, Any], entry: Entry, end: Entry | None) -> None:
    out["kind"] = "run"
    out["title"] = "run " + str(entry.get("engine", "")).rpartition(":")[2]
    tools = ", ".join(str(t.get("name", "?")) for t in entry.get("tools") or []) or "none"
    out["detail"] = f"{', '.join(entry.get('models') or []) or 'no model'} · tools: {tools}"


def _describe_member(out: dict[str, Any], entry: Entry, end: Entry | None) -> None:
    out["kind"] = "member"
    stage = str(entry.get("stage") or "")
    out["title"] = f"{entry.get('label')} · {entry.get('model')}"
    if stage and stage != "answer":
        out["title"] += f" · {stage}"
    state = str(entry.get("state") or "")
    if state == "started":
        out["status"] = "running"
        return
    out["duration_s"] = float(entry.get("duration_s") or 0)
    out["tokens"] = int((entry.get("usage") or {}).get("total_tokens") or 0)
    out["cost_usd"] = entry.get("cost_usd")
    if state == "failed":
        out["status"] = "error"
        out["error"] = brief(entry.get("error"), 300, quote=False)
    else:
        out["result"] = brief(entry.get("content"), 300, quote=False)


def _describe_round(out: dict[str, Any], entry: Entry, end: Entry | None) -> None:
    out["kind"] = "round"
    out["title"] = f"{entry.get('strategy')} round {entry.get('iteration')}"
    confidence = entry.get("confidence")
    out["confidence"] = confidence
    out["detail"] = str(entry.get("summary") or "")


def _describe_combine(out: dict[str, Any], entry: Entry, end: Entry | None) -> None:
    out["kind"] = "combine"
    state = str(entry.get("state") or "")
    out["title"] = f"combine · {entry.get('model') or 'no model'} · {state}"
    out["duration_s"] = float(entry.get("duration_s") or 0) or None
    if state == "started":
        out["status"] = "running"
    elif state in ("failed", "fallback", "unparseable"):
        out["status"] = "error"
        out["error"] = brief(entry.get("reason"), 300, quote=False)


def _describe_event(out: dict[str, Any], entry: Entry, end: Entry | None) -> None:
    skip = {"event_type", "message_type", "event_id", "timestamp", "metadata", "parent_id"}
    skip |= {"trace_id", "session_id", "engine_id"}
    fields = {k: v for k, v in entry.data.items() if k not in skip and v not in (None, "", [], {})}
    out["detail"] = brief(fields, 300, quote=False)
    if entry.type == "EventHandlerFailedEvent":
        out["status"] = "error"


_DESCRIBE = {
    "CommandStartedEvent": _describe_command,
    "LLMCallEvent": _describe_call,
    "ToolCallStartedEvent": _describe_tool,
    "RunStartedEvent": _describe_run,
    "ConsortiumMemberEvent": _describe_member,
    "ConsortiumIterationEvent": _describe_round,
    "ConsortiumCombineEvent": _describe_combine,
}


def brief(value: Any, limit: int, quote: bool = True) -> str:
    """``value`` on one line of at most ``limit`` characters (JSON unless a plain string)."""
    if isinstance(value, str):
        text = json.dumps(value, ensure_ascii=False) if quote else value
    else:
        text = json.dumps(value, ensure_ascii=False, default=str)
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _seconds(start: str, end: str) -> float | None:
    try:
        return (datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds()
    except ValueError:
        return None


class LiveTrace:
    """A session's trees, kept up to date as its events arrive.

    Args:
        max_traces: How many traces (turns) are kept; the oldest go first.
    """

    def __init__(self, max_traces: int = 50) -> None:
        self.max_traces = max(1, max_traces)
        self._traces: OrderedDict[str, list[Entry]] = OrderedDict()
        self._cancelled: set[str] = set()
        self._count = 0

    def add(self, data: dict[str, Any]) -> str | None:
        """Take one event's dict; the id of the trace it joined (None: not part of a tree)."""
        if data.get("event_type") not in TRACED_TYPES:
            return None
        self._count += 1
        entry = Entry(data, Path("live"), self._count)
        trace = entry.trace_id
        entries = self._traces.get(trace)
        if entries is None:
            entries = self._traces[trace] = []
            while len(self._traces) > self.max_traces:
                self._cancelled.discard(self._traces.popitem(last=False)[0])
        entries.append(entry)
        return trace

    def cancel(self, trace_id: str) -> None:
        """The turn of ``trace_id`` was cancelled: what had not ended never will."""
        if trace_id in self._traces:
            self._cancelled.add(trace_id)

    def trees(self, trace_id: str) -> list[dict[str, Any]]:
        """The trees of one trace (usually one: the turn's command)."""
        entries = self._traces.get(trace_id)
        if not entries:
            return []
        unended = "cancelled" if trace_id in self._cancelled else "running"
        return trees_json(Journal(list(entries), []), unended=unended)

    @property
    def trace_ids(self) -> list[str]:
        """The traces kept, oldest first."""
        return list(self._traces)
