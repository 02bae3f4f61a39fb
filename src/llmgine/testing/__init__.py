"""Test support that ships with the package: fakes, offline models and pytest fixtures."""

from llmgine.testing.fakes import FakeMessageBus
from llmgine.testing.models import (
    CallInfo,
    FunctionModel,
    ScriptedModel,
    ScriptExhaustedError,
    TestModel,
    UnusedRepliesError,
)

__all__ = [
    "CallInfo",
    "FakeMessageBus",
    "FunctionModel",
    "ScriptExhaustedError",
    "ScriptedModel",
    "TestModel",
    "UnusedRepliesError",
]
