"""Observability: handlers that see every event, JSONL and console logs, traces, redaction."""

from llmgine.observability.base import ObservabilityEventHandler
from llmgine.observability.console import ConsoleEventHandler
from llmgine.observability.events import LogLevel
from llmgine.observability.file import FileEventHandler
from llmgine.observability.otel import OpenTelemetryEventHandler
from llmgine.observability.plugins import (
    ObserverPluginError,
    available_observers,
    load_observer,
)
from llmgine.observability.redaction import Redactor, default_redactor, is_secret_key

__all__ = [
    "ConsoleEventHandler",
    "FileEventHandler",
    "LogLevel",
    "ObservabilityEventHandler",
    "ObserverPluginError",
    "OpenTelemetryEventHandler",
    "Redactor",
    "available_observers",
    "default_redactor",
    "is_secret_key",
    "load_observer",
]
