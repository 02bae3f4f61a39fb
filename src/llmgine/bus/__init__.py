"""The message bus and its sessions."""

from typing import Any

from llmgine.bus.bus import MessageBus
from llmgine.bus.interface import Bus
from llmgine.bus.session import BusSession

__all__ = ["Bus", "BusSession", "MessageBus"]


def __getattr__(name: str) -> Any:
    # The seed exported its fake from here; it now lives in llmgine.testing.
    if name == "FakeMessageBus":
        from llmgine.testing.fakes import FakeMessageBus

        return FakeMessageBus
    raise AttributeError(f"module 'llmgine.bus' has no attribute {name!r}")
