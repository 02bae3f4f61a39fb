"""Console event log: one readable line per event through :mod:`logging`."""

from __future__ import annotations

import logging
from typing import Any

from llmgine.messages.events import Event, EventHandlerFailedEvent
from llmgine.observability.base import ObservabilityEventHandler, dumps_json

__all__ = ["ConsoleEventHandler"]

_BASE_FIELDS = frozenset(
    {"event_type", "message_type", "event_id", "timestamp", "session_id", "metadata",
     "parent_id", "trace_id"}
)  # fmt: skip


class ConsoleEventHandler(ObservabilityEventHandler):
    """Logs ``[EVENT] Type session=... id=... field=value ...`` for each event.

    Args:
        logger: Where to log; default ``logging.getLogger("llmgine.events")``.
        level: Level of ordinary events (handler failures log at WARNING).
        max_length: Longest line before it is cut with ``...``.
    """

    def __init__(
        self,
        logger: logging.Logger | None = None,
        level: int = logging.INFO,
        max_length: int = 300,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.logger = logger or logging.getLogger("llmgine.events")
        self.level = level
        self.max_length = max_length

    def format_event(self, event: Event) -> str:
        """Return the one-line summary of ``event`` (secrets masked)."""
        data = self.event_to_dict(event)
        parts = [
            f"[EVENT] {data['event_type']}",
            f"session={data.get('session_id')}",
            f"id={str(data.get('event_id', ''))[:8]}",
        ]
        for key, value in data.items():
            if key in _BASE_FIELDS:
                continue
            text = value if isinstance(value, str) else dumps_json(value).decode()
            parts.append(f"{key}={text}")
        line = " ".join(parts).replace("\n", "\\n")
        if len(line) > self.max_length:
            line = line[: self.max_length - 3] + "..."
        return line

    def handle(self, event: Event) -> None:
        """Log the event's summary line."""
        level = logging.WARNING if isinstance(event, EventHandlerFailedEvent) else self.level
        if self.logger.isEnabledFor(level):
            self.logger.log(level, "%s", self.format_event(event))
