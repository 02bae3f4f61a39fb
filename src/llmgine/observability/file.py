"""JSONL event log: one compact JSON object per line."""

from __future__ import annotations

import asyncio
import atexit
import logging
import os
import weakref
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson

from llmgine.messages.events import Event
from llmgine.observability.base import ObservabilityEventHandler, dumps_json

__all__ = ["FileEventHandler"]

logger = logging.getLogger("llmgine.observability")

_MAX_UNWRITTEN = 100_000  # lines kept while the file cannot be written


_PREFIXES: dict[type, bytes] = {}


def _line_prefix(cls: type) -> bytes:
    prefix = _PREFIXES.get(cls)
    if prefix is None:
        names = {"event_type": cls.__name__, "message_type": getattr(cls, "_message_type", "")}
        prefix = orjson.dumps(names)[:-1] + b","
        _PREFIXES[cls] = prefix
    return prefix


def _flush_at_exit(ref: weakref.ref[FileEventHandler]) -> None:
    handler = ref()
    if handler is not None:
        handler.close()


class FileEventHandler(ObservabilityEventHandler):
    """Writes every event to a JSONL file, with secrets masked.

    Lines are buffered and written when the buffer fills, one second after
    the first unwritten line (a one-shot timer, so an idle bus never wakes),
    on ``bus.stop()``, on :meth:`close` and at interpreter exit. The file is
    created with owner-only permissions (0600).

    Args:
        log_dir: Directory of the log file (created when first written).
        filename: File name; default ``events_YYYYMMDD_HHMMSS.jsonl``.
        flush_interval: Seconds an event may wait in the buffer.
        buffer_size: Lines that trigger an immediate write.
    """

    def __init__(
        self,
        log_dir: str | os.PathLike[str] = "logs",
        filename: str | None = None,
        *,
        flush_interval: float = 1.0,
        buffer_size: int = 512,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.log_dir = Path(log_dir)
        if filename is None:
            filename = f"events_{datetime.now().strftime('%Y%m%d_%H%M%S')}.jsonl"
        self.log_file = self.log_dir / filename
        self.flush_interval = flush_interval
        self.buffer_size = buffer_size
        self._buffer: list[bytes] = []
        self._fd: int | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._write_failed = False
        atexit.register(_flush_at_exit, weakref.ref(self))

    def handle(self, event: Event) -> None:
        """Serialise ``event`` (masked) into the buffer."""
        line = None
        if not self.redactor.needs_redaction(event):
            # Fast path: orjson writes the dataclass itself. Only taken when
            # the event holds plain data with nothing to mask.
            try:
                body = orjson.dumps(event, option=orjson.OPT_NON_STR_KEYS)
            except TypeError:
                pass
            else:
                line = _line_prefix(type(event)) + body[1:]
        if line is None:
            line = dumps_json(self.event_to_dict(event))
        buffer = self._buffer
        buffer.append(line)
        if len(buffer) >= self.buffer_size:
            self.flush()
        elif self._timer is None:
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:
                self.flush()
                return
            self._timer = loop.call_later(self.flush_interval, self.flush)

    def flush(self) -> None:
        """Append the buffered lines to the file."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if not self._buffer:
            return
        data = b"\n".join(self._buffer) + b"\n"
        try:
            if self._fd is None:
                self.log_dir.mkdir(parents=True, exist_ok=True)
                self._fd = os.open(self.log_file, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            view = memoryview(data)
            while view:
                written = os.write(self._fd, view)
                view = view[written:]
        except OSError as exc:
            if not self._write_failed:
                logger.warning(
                    "Cannot write event log %s (%s); events are kept in memory and retried",
                    self.log_file,
                    exc,
                )
            self._write_failed = True
            del self._buffer[:-_MAX_UNWRITTEN]
            return
        self._write_failed = False
        self._buffer.clear()

    def close(self) -> None:
        """Flush and close the file (it is reopened if more events arrive)."""
        self.flush()
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def __repr__(self) -> str:
        return f"FileEventHandler({str(self.log_file)!r})"
