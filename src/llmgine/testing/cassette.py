"""A run log used as a test cassette: record once with a real key, replay offline in CI.

The ``llmgine_cassette`` fixture (:mod:`llmgine.testing.pytest_plugin`) gives
a test a :class:`Cassette`. Its :meth:`Cassette.model` is the model the test
uses:

* replaying (the default, when the cassette file exists): a
  :class:`~llmgine.models.replay.ReplayModel` answering from the file; at the
  end of the test every recorded call must have been asked for;
* recording (``LLMGINE_RECORD=1``): the real model, real requests allowed,
  and every event of the test written to the cassette (secrets masked), as
  any run log is.

A cassette is an ordinary log: ``llmgine logs show tests/cassettes/...``
reads it.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from llmgine.bus.bus import MessageBus
from llmgine.errors import LLMgineError
from llmgine.models.interface import Model
from llmgine.models.registry import get_model
from llmgine.models.replay import ReplayModel
from llmgine.observability.file import FileEventHandler
from llmgine.providers import guard

__all__ = ["Cassette", "CassetteMissingError", "cassette_path", "recording_requested"]

#: Set to 1 to record cassettes with real model calls.
RECORD_VARIABLE = "LLMGINE_RECORD"


class CassetteMissingError(LLMgineError, FileNotFoundError):
    """A test asked to replay a cassette that was never recorded."""


def recording_requested() -> bool:
    """Whether ``LLMGINE_RECORD`` asks for cassettes to be recorded."""
    return os.environ.get(RECORD_VARIABLE, "").lower() in {"1", "true", "yes"}


def cassette_path(test_file: Path, test_name: str) -> Path:
    """``<test dir>/cassettes/<test module>/<test name>.jsonl`` (the name made file-safe)."""
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "-", test_name).strip("-")
    return test_file.parent / "cassettes" / test_file.stem / f"{safe}.jsonl"


class Cassette:
    """The cassette of one test.

    Args:
        path: The cassette file.
        record: Record (real calls, the file rewritten) instead of replaying.

    Attributes:
        path: The cassette file.
        recording: Whether this test records.
    """

    def __init__(self, path: Path, *, record: bool) -> None:
        self.path = path
        self.recording = record
        self._handler: FileEventHandler | None = None
        self._bus: MessageBus | None = None
        self._replays: list[ReplayModel] = []

    def model(self, spec: str, *, bus: MessageBus | None = None) -> Model:
        """The model named ``spec`` (``"openai:gpt-4.1-mini"``), recorded or replayed.

        Args:
            spec: What ``get_model`` takes; replaying, the recorded model's
                ``"provider:model"``.
            bus: The bus the test's engines publish to, when not the
                ``MessageBus`` singleton (recording listens to it).

        Raises:
            CassetteMissingError: replaying, and the cassette was never
                recorded (the message says how to record it).
        """
        if self.recording:
            self._start_recording(bus or MessageBus())
            return get_model(spec)
        if not self.path.is_file():
            raise CassetteMissingError(
                f"no cassette {self.path}: record it once with {RECORD_VARIABLE}=1 "
                "(and the provider's API key set), then commit it"
            )
        replay = ReplayModel.from_log(self.path, model=get_model(spec).model_string)
        self._replays.append(replay)
        return replay

    def _start_recording(self, bus: MessageBus) -> None:
        if self._handler is not None:
            return
        guard.allow_model_requests(True)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.unlink(missing_ok=True)
        self._handler = FileEventHandler(self.path.parent, self.path.name)
        self._bus = bus
        bus.register_observability_handler(self._handler)

    def finish(self, *, check_complete: bool = True) -> None:
        """End the test: close the recording, or check every recorded call was replayed.

        Args:
            check_complete: Check that the test asked for every recorded call.

        Raises:
            UnplayedRecordingsError: a recorded call was never asked for (the
                test no longer does what was recorded: record it again).
        """
        if self._handler is not None:
            if self._bus is not None:
                self._bus.unregister_observability_handler(self._handler)
            self._handler.close()
            self._handler = None
        if check_complete:
            for replay in self._replays:
                replay.assert_complete()
