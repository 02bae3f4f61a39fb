"""The observability extension point: a handler that sees every event."""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Awaitable
from typing import Any

import orjson

from llmgine.messages.events import Event
from llmgine.observability.redaction import Redactor, default_redactor

__all__ = ["ObservabilityEventHandler", "dumps_json"]


def dumps_json(data: Any) -> bytes:
    """Compact JSON bytes for log output; never raises for odd values.

    orjson is used for speed; what it refuses (integers beyond 64 bits, say)
    goes through the standard library instead.
    """
    try:
        return orjson.dumps(data, default=str, option=orjson.OPT_NON_STR_KEYS)
    except TypeError:
        return json.dumps(data, default=str, separators=(",", ":")).encode()


class ObservabilityEventHandler(ABC):
    """Receives every event the bus delivers, before the event's own handlers.

    Register one with ``bus.register_observability_handler(handler)``.
    ``handle`` may be a plain or an ``async`` method; a plain one is cheaper.
    Errors raised here are logged and recorded, never passed to the publisher.

    Args:
        redactor: Masks secrets in :meth:`event_to_dict`; the shared default
            when omitted.
    """

    def __init__(self, *, redactor: Redactor | None = None, **kwargs: Any) -> None:
        self.redactor = redactor or default_redactor()

    @abstractmethod
    def handle(self, event: Event) -> None | Awaitable[None]:
        """Process one event."""

    def flush(self) -> None:  # noqa: B027 - optional hook, nothing to flush by default
        """Write out anything buffered (the bus calls this on ``stop()``)."""

    def close(self) -> None:
        """Flush and release resources (files, connections)."""
        self.flush()

    def event_to_dict(self, event: Any) -> dict[str, Any]:
        """Return the event as a JSON-compatible dict with secrets masked.

        The dict starts with ``event_type`` (the class name), then every field
        as in ``event.to_dict()``, trace fields included.
        """
        to_dict = getattr(event, "to_dict", None)
        if to_dict is not None:
            data = {"event_type": type(event).__name__, **to_dict()}
        else:
            from llmgine.messages.serialization import to_jsonable

            converted = to_jsonable(event)
            data = {"event_type": type(event).__name__}
            data.update(converted if isinstance(converted, dict) else {"value": converted})
        return self.redactor.redact(data)

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"
