"""Large values kept beside the log (spill_bytes) and read back in their place by the journal."""

from __future__ import annotations

import hashlib
import json
import stat
from pathlib import Path

from llmgine.bus.bus import MessageBus
from llmgine.engines import ToolChatEngine
from llmgine.engines.replay import replay_log
from llmgine.messages import Event
from llmgine.observability import FileEventHandler, Redactor
from llmgine.observability.blobs import BLOB_KEY, blob_folder
from llmgine.observability.journal import Journal
from llmgine.testing import ScriptedModel
from llmgine.tools import ToolCall, tool

BIG = "lorem ipsum " * 2000  # 24,000 characters


class Note(Event):
    text: str = ""
    parts: list[str] | None = None


def handler_for(tmp_path: Path, **options: object) -> FileEventHandler:
    return FileEventHandler(
        tmp_path / "logs",
        flush_interval=3600,
        redactor=Redactor(use_environment=False),
        **options,  # type: ignore[arg-type]
    )


async def test_a_long_value_goes_beside_the_line_once_and_reads_back(
    bus: MessageBus, tmp_path: Path
) -> None:
    handler = handler_for(tmp_path, spill_bytes=1000)
    bus.register_observability_handler(handler)
    small, big = Note(text="short"), Note(text=BIG, parts=["tiny", BIG])
    await bus.publish(small)
    await bus.publish(big)
    await bus.stop()
    lines = handler.log_file.read_text().splitlines()
    assert len(lines) == 2 and all(len(line) < 2000 for line in lines)
    digest = hashlib.sha256(BIG.encode()).hexdigest()
    written = json.loads(lines[1])
    assert written["text"] == {BLOB_KEY: digest, "bytes": len(BIG)}
    assert written["parts"] == ["tiny", {BLOB_KEY: digest, "bytes": len(BIG)}]
    (blob,) = blob_folder(handler.log_file).iterdir()  # one file for the same content
    assert blob.name == f"{digest}.txt" and blob.read_text() == BIG
    assert stat.S_IMODE(blob.stat().st_mode) == 0o600
    journal = Journal.read([handler.log_file])
    assert journal.problems == []
    assert [e.get("text") for e in journal.entries] == ["short", BIG]
    assert journal.entries[1].get("parts") == ["tiny", BIG]


async def test_a_missing_or_changed_blob_is_reported_not_trusted(
    bus: MessageBus, tmp_path: Path
) -> None:
    handler = handler_for(tmp_path, spill_bytes=1000)
    bus.register_observability_handler(handler)
    await bus.publish(Note(text=BIG))
    await bus.publish(Note(text=BIG.upper()))
    await bus.stop()
    first, second = sorted(blob_folder(handler.log_file).iterdir())
    first.write_text("something else")
    second.unlink()
    journal = Journal.read([handler.log_file])
    assert len(journal.problems) == 2
    assert any("does not match its hash" in p for p in journal.problems)
    assert any("cannot be read" in p for p in journal.problems)
    forged = handler.log_file.with_name("forged.jsonl")  # a reference is a hash, never a path
    forged.write_text(json.dumps({"event_type": "Note", "text": {BLOB_KEY: "../../etc/passwd"}}))
    journal = Journal.read([forged])
    assert journal.problems and "not a SHA-256" in journal.problems[0]


@tool
def long_report(topic: str) -> str:
    """A long report.

    Args:
        topic: What about.
    """
    return f"{topic}: " + BIG


async def test_a_run_with_spilled_values_replays(bus: MessageBus, tmp_path: Path) -> None:
    handler = handler_for(tmp_path, spill_bytes=1000)
    bus.register_observability_handler(handler)
    model = ScriptedModel([ToolCall("c1", "long_report", '{"topic": "q3"}'), "Done: " + BIG])
    engine = ToolChatEngine("spill", model=model, tools=[long_report])
    assert (await engine.execute("Report on q3")).result == "Done: " + BIG
    handler.flush()
    assert max(len(line) for line in handler.log_file.read_text().splitlines()) < 20_000
    outcome = await replay_log([handler.log_file])
    assert outcome.matched, "\n".join(outcome.diff)
    bus.unregister_observability_handler(handler)
    handler.close()
