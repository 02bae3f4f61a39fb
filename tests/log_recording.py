"""``Recording``: what the ``recording`` fixture (tests/conftest.py) gives a test."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from llmgine.bus.bus import MessageBus
from llmgine.observability.file import FileEventHandler
from llmgine.observability.journal import Journal


@dataclass
class Recording:
    """A started bus whose every event goes to a JSONL log under ``log_dir``."""

    bus: MessageBus
    handler: FileEventHandler

    @property
    def log_dir(self) -> Path:
        return self.handler.log_dir

    def files(self) -> list[Path]:
        """The log's files, everything written so far in them."""
        self.handler.flush()
        return sorted(self.log_dir.glob("*.jsonl"))

    def journal(self) -> Journal:
        journal = Journal.read(self.files())
        assert journal.problems == []
        return journal
