"""The message bus and its sessions."""

from llmgine.bus.bus import MessageBus
from llmgine.bus.interface import Bus
from llmgine.bus.session import BusSession

__all__ = ["Bus", "BusSession", "MessageBus"]
