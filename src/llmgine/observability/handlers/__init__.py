"""Observability handlers (kept at this path for code written against the seed)."""

from llmgine.observability.base import ObservabilityEventHandler
from llmgine.observability.console import ConsoleEventHandler
from llmgine.observability.file import FileEventHandler

__all__ = ["ConsoleEventHandler", "FileEventHandler", "ObservabilityEventHandler"]
