"""Former home of the fake bus; use :mod:`llmgine.testing`."""

from llmgine.testing.fakes import FakeMessageBus

__all__ = ["FakeMessageBus"]
