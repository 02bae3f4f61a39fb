"""Test support that ships with the package: fakes, offline models and pytest fixtures.

The offline models live with the models (:mod:`llmgine.models`); they are
re-exported here, where tests look for them.
"""

from llmgine.models.function import CallInfo, FunctionModel
from llmgine.models.instrumented import InstrumentedModel, instrument
from llmgine.models.scripted import ScriptedModel, ScriptExhaustedError, UnusedRepliesError
from llmgine.models.test import TestModel
from llmgine.testing.fakes import FakeMessageBus

__all__ = [
    "CallInfo",
    "FakeMessageBus",
    "FunctionModel",
    "InstrumentedModel",
    "ScriptExhaustedError",
    "ScriptedModel",
    "TestModel",
    "UnusedRepliesError",
    "instrument",
]
