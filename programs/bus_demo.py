"""A tour of the LLMgine message bus: commands, events, a session, a scheduled event.

Run it with ``make run`` (or ``python programs/bus_demo.py``). Everything the
bus carried is written to a JSONL file under ``logs/``; at the end the demo
reads that file back and draws it as a tree, using the trace fields every
message carries.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
from collections import defaultdict
from pathlib import Path
from typing import Any

from llmgine import (
    ApplicationBootstrap,
    ApplicationConfig,
    Command,
    CommandResult,
    Event,
    FileEventHandler,
    ScheduledEvent,
)


class Greet(Command):
    name: str = "world"


class Greeted(Event):
    text: str = ""


class Divide(Command):
    a: float = 1.0
    b: float = 1.0


class Reminder(ScheduledEvent):
    note: str = ""


async def run(log_dir: Path) -> Path:
    app = ApplicationBootstrap(
        ApplicationConfig(
            name="bus-demo",
            enable_console_handler=False,
            file_handler_log_dir=str(log_dir),
            log_level="error",
            data_dir=log_dir,
        )
    )
    await app.bootstrap()
    bus = app.message_bus

    # 1. A command goes to exactly one handler and returns a CommandResult.
    async def greet(command: Greet) -> CommandResult:
        text = f"Hello, {command.name}!"
        await bus.publish(Greeted(text=text, session_id=command.session_id))
        return CommandResult(success=True, result=text)

    # 2. Events go to every handler registered for them (sync or async).
    bus.register_command_handler(Greet, greet)
    bus.register_event_handler(Greeted, lambda e: print(f"  event  Greeted: {e.text}"))

    print("1. Command and event (ROOT session)")
    result = await bus.execute(Greet("world"))
    print(f"  result {result.result!r} (success={result.success})")

    # 3. A session scopes handlers; they are removed when it ends.
    print("2. A session with its own handler")
    async with bus.create_session() as session:
        session.register_command_handler(Greet, lambda c: f"Session hello to {c.name}")
        session.register_event_handler(Greeted, lambda e: print(f"  session saw: {e.text}"))
        result = await session.execute_with_session(Greet("session user"))
        print(f"  result {result.result!r}")
        await session.publish(Greeted(text="only this session hears this"))
    print(f"  after the session: its handlers are gone (id {session.session_id[:8]}...)")

    # 4. A failing handler becomes a failed CommandResult, never an exception.
    print("3. A handler that fails")
    bus.register_command_handler(Divide, lambda c: c.a / c.b)
    result = await bus.execute(Divide(a=1, b=0))
    print(f"  success={result.success} error={result.error!r}")

    # 5. A scheduled event fires at its time, from a timer, not a polling loop.
    print("4. A scheduled event")
    fired: asyncio.Future[Reminder] = asyncio.get_running_loop().create_future()
    bus.register_event_handler(Reminder, lambda e: fired.done() or fired.set_result(e))
    due = dt.datetime.now(dt.UTC) + dt.timedelta(milliseconds=300)
    await bus.publish(Reminder(note="stretch your legs", scheduled_time=due))
    print("  published; waiting for it to fire...")
    reminder = await asyncio.wait_for(fired, timeout=10)
    late_ms = (dt.datetime.now(dt.UTC) - due).total_seconds() * 1000
    print(f"  fired: {reminder.note!r}, {late_ms:.1f} ms after its time")

    log_file = next(
        h.log_file for h in app.observability_handlers if isinstance(h, FileEventHandler)
    )
    await app.shutdown()
    return log_file


def draw_tree(log_file: Path) -> None:
    """Print the JSONL log as trees: each message under the one that caused it."""
    lines = [json.loads(line) for line in log_file.read_text().splitlines() if line]
    nodes: dict[str, dict[str, Any]] = {}
    for entry in lines:
        nodes[entry["event_id"]] = entry
        command = entry.get("command")  # commands are logged inside CommandStartedEvent
        if isinstance(command, dict) and "command_id" in command:
            name = str(command.get("message_type", "Command")).rpartition(":")[2]
            nodes.setdefault(command["command_id"], {**command, "event_type": name})
    children: dict[str | None, list[str]] = defaultdict(list)
    for node_id, node in nodes.items():
        parent = node.get("parent_id")
        children[parent if parent in nodes else None].append(node_id)

    def show(node_id: str, depth: int) -> None:
        node = nodes[node_id]
        detail = node.get("text") or node.get("note") or node.get("name") or ""
        print(f"  {'  ' * depth}{node['event_type']} {detail}".rstrip())
        for child in children.get(node_id, []):
            show(child, depth + 1)

    for root in children[None]:
        show(root, 0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--log-dir", type=Path, default=Path("logs"), help="where to write logs")
    args = parser.parse_args()
    log_file = asyncio.run(run(args.log_dir))
    count = sum(1 for _ in log_file.open())
    print(f"5. The bus wrote {count} events to {log_file}; drawn as trace trees:")
    draw_tree(log_file)


if __name__ == "__main__":
    main()
