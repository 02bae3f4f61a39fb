"""Test support that ships with the package: fakes, offline models and pytest fixtures.

The offline models (and the offline :class:`HashEmbedder`) live with the
models (:mod:`llmgine.models`); they are re-exported here, where tests look
for them.
"""

from llmgine.models.function import CallInfo, FunctionModel
from llmgine.models.hash_embedder import HashEmbedder
from llmgine.models.instrumented import InstrumentedModel, instrument
from llmgine.models.replay import ReplayMismatchError, ReplayModel, UnplayedRecordingsError
from llmgine.models.scripted import ScriptedModel, ScriptExhaustedError, UnusedRepliesError
from llmgine.models.test import TestModel
from llmgine.testing.cassette import Cassette, CassetteMissingError
from llmgine.testing.fakes import FakeMessageBus

__all__ = [
    "CallInfo",
    "Cassette",
    "CassetteMissingError",
    "FakeMessageBus",
    "FunctionModel",
    "HashEmbedder",
    "InstrumentedModel",
    "ReplayMismatchError",
    "ReplayModel",
    "ScriptExhaustedError",
    "ScriptedModel",
    "TestModel",
    "UnplayedRecordingsError",
    "UnusedRepliesError",
    "instrument",
]
