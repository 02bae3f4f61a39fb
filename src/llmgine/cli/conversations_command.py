"""``llmgine conversations list | show | delete``: the stored conversations.

``list`` shows the conversations of the file, newest first; ``show`` prints
one (default: the latest) message by message: what the user asked, the tool
calls and their results, the model's thinking (shortened) and answers;
``delete`` removes one, with its memories. ``--json`` prints plain data.
What is printed has its secrets masked, as in the log (the file keeps the
conversation as it was).
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from llmgine.context.conversations import ConversationInfo, ConversationStore
from llmgine.context.db import default_db_path
from llmgine.errors import LLMgineError
from llmgine.observability.redaction import default_redactor

__all__ = ["add_arguments", "render_message", "run_conversations"]

_THINKING_SHOWN = 200


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``conversations`` subcommands and their options."""
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    for name, help_text in (
        ("list", "the stored conversations, most recent first"),
        ("show", "the messages of a conversation (default: the latest)"),
        ("delete", "delete a conversation and its memories"),
    ):
        sub = actions.add_parser(name, help=help_text, description=help_text)
        sub.add_argument(
            "--db",
            metavar="PATH",
            help="the conversations file (default: $XDG_DATA_HOME/llmgine/conversations.db)",
        )
        if name != "delete":
            sub.add_argument("--json", action="store_true", help="print plain JSON")
        if name == "list":
            sub.add_argument("--limit", type=int, metavar="N", help="at most N conversations")
        else:
            sub.add_argument(
                "id",
                nargs="?" if name == "show" else None,
                metavar="ID",
                help="the conversation: its id or the start of it",
            )


def run_conversations(args: argparse.Namespace, console: Console | None = None) -> int:
    """Run ``llmgine conversations ACTION``; the exit code (2 when the file or id is unusable)."""
    console = console or Console()
    path = Path(args.db).expanduser() if args.db else default_db_path()
    wanted = getattr(args, "id", None)
    if wanted is not None and not wanted.strip():
        print("error: give a conversation id (or the start of one)", file=sys.stderr)
        return 2
    if not path.exists():  # read, never made: a mistyped --db must not create a file
        if wanted is not None:
            print(
                f"error: no conversation in {path} matches {wanted!r}: the file does not exist",
                file=sys.stderr,
            )
            return 2
        if getattr(args, "json", False):
            print("[]")
            return 0
        console.print(Text(f"no conversations in {path} (the file does not exist)", style="yellow"))
        return 0
    try:
        with ConversationStore(path) as store:
            if args.action == "list":
                return _list(store, args, console)
            if args.action == "show":
                return _show(store, args, console)
            conversation_id = store.delete(args.id)
            console.print(Text(f"deleted conversation {conversation_id} from {store.path}"))
            return 0
    except LLMgineError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


def _masked(value: Any) -> Any:
    """``value`` with its secrets masked, as the log has them."""
    return default_redactor().redact(value)


def _when(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp).strftime("%Y-%m-%d %H:%M")


def _list(store: ConversationStore, args: argparse.Namespace, console: Console) -> int:
    found = store.list_conversations(limit=args.limit)
    if args.json:
        listed = _masked([info.to_dict() for info in found])
        print(json.dumps(listed, indent=2, ensure_ascii=False))
        return 0
    if not found:
        console.print(Text(f"no conversations in {store.path}", style="yellow"))
        return 0
    title = Text(f"Conversations in {store.path} (newest first)")
    table = Table(title=title, title_justify="left")
    table.add_column("id", no_wrap=True, min_width=12)  # what the user types next: never cut
    table.add_column("updated", no_wrap=True)
    table.add_column("msgs", justify="right", no_wrap=True)
    table.add_column("model", overflow="fold", ratio=1)
    table.add_column("title", overflow="fold", ratio=3)
    for info in found:  # as Text: "[/x]" in a title is shown, not read as markup
        table.add_row(
            Text(info.id),
            _when(info.updated_at),
            str(info.message_count),
            Text(str(info.metadata.get("model") or "-")),
            Text(default_redactor().redact_text(info.title) or "-"),
        )
    console.print(table)
    console.print(
        Text("Continue one with: llmgine chat --conversation ID (or --continue)", style="dim")
    )
    return 0


def _show(store: ConversationStore, args: argparse.Namespace, console: Console) -> int:
    info: ConversationInfo | None = store.get(args.id) if args.id else store.latest()
    if info is None:
        console.print(Text(f"no conversations in {store.path}", style="yellow"))
        return 0
    messages = _masked([entry.message for entry in store.messages(info.id)])
    if args.json:
        shown = _masked({**info.to_dict(), "messages": messages})
        print(json.dumps(shown, indent=2, ensure_ascii=False))
        return 0
    console.print(
        Text.assemble(
            ("conversation ", "bold"),
            (info.id, "bold cyan"),
            f"  {_when(info.created_at)} - {_when(info.updated_at)}, {info.message_count} messages",
        )
    )
    if info.system_prompt:
        system = default_redactor().redact_text(info.system_prompt)
        console.print(Text(f"system: {system}", style="dim"))
    for message in messages:
        console.print(render_message(message))
    return 0


def render_message(message: dict[str, Any]) -> Text:
    """One stored message as a line (or a few): who said it, and what."""
    role = str(message.get("role", "?"))
    text = Text()
    content = message.get("content")
    body = content if isinstance(content, str) else _parts_text(content)
    if role == "tool":
        text.append(f"  ← {message.get('name') or 'tool'}: ", style="magenta")
        text.append(body)
        return text
    style = {"user": "bold green", "assistant": "bold blue"}.get(role, "bold")
    text.append(f"{role}: ", style=style)
    for block in message.get("thinking_blocks") or []:
        thought = str(block.get("thinking") or "[redacted thinking]")
        if len(thought) > _THINKING_SHOWN:
            thought = thought[: _THINKING_SHOWN - 1] + "…"
        text.append(f"(thinking: {thought}) ", style="dim italic")
    if body:
        text.append(body)
    for call in message.get("tool_calls") or []:
        function = call.get("function") or {}
        text.append(
            f"\n  → {function.get('name', 'tool')}({function.get('arguments', '')})",
            style="magenta",
        )
    return text


def _parts_text(content: Any) -> str:
    """The text of a content given as parts (``[{"type": "text", "text": ...}]``)."""
    if not content:
        return ""
    if isinstance(content, list):
        return " ".join(
            str(part.get("text", f"[{part.get('type', 'part')}]"))
            for part in content
            if isinstance(part, dict)
        )
    return str(content)
