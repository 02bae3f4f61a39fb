"""Test support that ships with the package: fakes and pytest fixtures."""

from llmgine.testing.fakes import FakeMessageBus

__all__ = ["FakeMessageBus"]
