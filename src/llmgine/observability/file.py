"""JSONL event log: one compact JSON object per line."""

from __future__ import annotations

import asyncio
import atexit
import logging
import os
import tempfile
import threading
import weakref
from datetime import UTC, datetime
from pathlib import Path
from queue import SimpleQueue
from typing import Any

import orjson

from llmgine.errors import ConfigurationError
from llmgine.messages.events import Event, StreamDeltaEvent
from llmgine.observability.base import ObservabilityEventHandler, dumps_json
from llmgine.observability.blobs import BlobSpiller
from llmgine.observability.streams import HeldDeltas

__all__ = ["FileEventHandler", "ensure_log_dir"]

logger = logging.getLogger("llmgine.observability")

_MAX_UNWRITTEN = 64 * 1024 * 1024  # bytes kept while the file cannot be written


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


class _Writer:
    """Appends chunks to one file from a background thread, in order.

    ``os.write`` releases the GIL, so a slow disk never stalls the event loop
    and the loop keeps handling events while lines are written. Chunks that
    cannot be written (full disk, missing permission) are kept, up to
    ``_MAX_UNWRITTEN`` bytes, and retried with the next chunk.
    """

    def __init__(self, path: Path, max_bytes: int | None = None) -> None:
        self.path = path
        self.first_path = path
        self.max_bytes = max_bytes
        self.part = 1
        self.written = 0
        self.fd: int | None = None
        self._queue: SimpleQueue[bytes | threading.Event | None] = SimpleQueue()
        self._thread: threading.Thread | None = None
        self._unwritten = b""
        self._failed = False
        self._start_lock = threading.Lock()

    def submit(self, chunk: bytes) -> None:
        """Queue ``chunk`` for writing."""
        if self._thread is None:
            with self._start_lock:
                if self._thread is None:
                    thread = threading.Thread(
                        target=self._run, name=f"llmgine-log-{self.path.name}", daemon=True
                    )
                    try:
                        thread.start()
                    except RuntimeError:  # interpreter shutting down: write here
                        self._write(chunk)
                        self._close_fd()
                        return
                    self._thread = thread
        self._queue.put(chunk)

    def wait(self) -> None:
        """Block until every submitted chunk was written (or kept after a failure)."""
        thread = self._thread
        if thread is None or not thread.is_alive():
            return
        done = threading.Event()
        self._queue.put(done)
        done.wait()

    def close(self) -> None:
        """Write what is queued, close the file and end the thread."""
        thread, self._thread = self._thread, None
        if thread is not None and thread.is_alive():
            self._queue.put(None)
            thread.join()

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                self._close_fd()
                return
            if isinstance(item, threading.Event):
                item.set()
                continue
            self._write(item)

    def _next_part(self) -> None:
        """Go on in ``<name>.2.jsonl``, ``.3``... (chunks are whole lines, so no line is split)."""
        self._close_fd()
        self.part += 1
        self.written = 0
        self.path = self.first_path.with_name(
            f"{self.first_path.name.removesuffix('.jsonl')}.{self.part}.jsonl"
        )

    def _close_fd(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None

    def _write(self, chunk: bytes) -> None:
        data = self._unwritten + chunk if self._unwritten else chunk
        try:
            if self.fd is None:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                self.fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            view = memoryview(data)
            while view:
                view = view[os.write(self.fd, view) :]
            self.written += len(data)
            if self.max_bytes is not None and self.written >= self.max_bytes:
                self._next_part()
        except OSError as exc:
            if not self._failed:
                logger.warning(
                    "Cannot write event log %s (%s); events are kept in memory and retried",
                    self.path,
                    exc,
                )
            self._failed = True
            if len(data) > _MAX_UNWRITTEN:  # keep the newest whole lines
                cut = data.find(b"\n", len(data) - _MAX_UNWRITTEN)
                data = data[cut + 1 :] if cut >= 0 else b""
            self._unwritten = data
            return
        self._failed = False
        self._unwritten = b""


def ensure_log_dir(log_dir: str | os.PathLike[str]) -> Path:
    """Create ``log_dir`` if needed and check that files can be written in it.

    The handler itself never fails on a bad directory (it keeps events in
    memory and retries); a command line calls this first to fail at once.

    Raises:
        ConfigurationError: the directory cannot be created or written (it names the path).
    """
    path = Path(log_dir)
    try:
        path.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".llmgine-write-check-", dir=path)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise ConfigurationError(
            f"cannot write the event log in {str(path)!r}: {reason}; choose a writable "
            "directory with --log-dir"
        ) from exc
    return path


class FileEventHandler(ObservabilityEventHandler):
    """Writes every event to a JSONL file, with secrets masked.

    Lines are buffered and handed to a writer thread when the buffer fills,
    one second after the first unwritten line (a one-shot timer, so an idle
    bus never wakes), on ``bus.stop()``, on :meth:`close` and at interpreter
    exit; :meth:`flush` returns once they are in the file. The file is
    created with owner-only permissions (0600). Streamed text (the
    :class:`~llmgine.messages.events.StreamDeltaEvent` pieces of an answer)
    is masked a whole word at a time, so a key split over two pieces is
    masked too (:class:`~llmgine.observability.streams.HeldDeltas`).

    Args:
        log_dir: Directory of the log file (created when first written).
        filename: File name; default ``<UTC time>-<run id>.jsonl``
            (``20261201T120000Z-3f9a1c2b7d4e.jsonl``): one file per handler,
            never shared by two processes.
        flush_interval: Seconds an event may wait in the buffer.
        buffer_size: Lines that trigger an immediate write.
        max_bytes: Start a new part (``<name>.2.jsonl``, ``.3``...) once a file
            holds this many bytes (None: one file).
        spill_bytes: Keep each string longer than this (a whole prompt, a tool
            result) in a file beside the log, ``<run>.blobs/<sha256>.txt``,
            and a reference in the line (None: every value in its line). The
            journal (``llmgine logs``, replay) reads it back in its place.

    Attributes:
        run_id: The random id in the file name (what ``llmgine logs`` calls a run).
    """

    def __init__(
        self,
        log_dir: str | os.PathLike[str] = "logs",
        filename: str | None = None,
        *,
        flush_interval: float = 1.0,
        buffer_size: int = 512,
        max_bytes: int | None = None,
        spill_bytes: int | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.log_dir = Path(log_dir)
        self.run_id = os.urandom(6).hex()
        if filename is None:
            filename = f"{datetime.now(UTC).strftime('%Y%m%dT%H%M%SZ')}-{self.run_id}.jsonl"
        self.log_file = self.log_dir / filename
        self.flush_interval = flush_interval
        self.buffer_size = buffer_size
        self._buffer: list[bytes] = []
        self._writer = _Writer(self.log_file, max_bytes)
        self._timer: asyncio.TimerHandle | None = None
        self._deltas = HeldDeltas(self.redactor)
        self._spiller = BlobSpiller(self.log_file, spill_bytes) if spill_bytes else None
        atexit.register(_flush_at_exit, weakref.ref(self))
        # A handler dropped without close() must not leave its thread behind.
        weakref.finalize(self, self._writer.close).atexit = False

    def handle(self, event: Event) -> None:
        """Serialise ``event`` (masked) into the buffer."""
        if isinstance(event, StreamDeltaEvent):
            for delta, text in self._deltas.add(event):
                self._add(delta, text)
            return
        if self._deltas.holding:  # the stream ended, or was interrupted: its pieces first
            self._release_deltas()
        self._add(event)

    def _add(self, event: Event, text: str | None = None) -> None:
        """Add one line: ``event``, masked (with ``text`` as its text, when given)."""
        line = None
        data: dict[str, Any] | None = None
        if text is not None:
            data = self.event_to_dict(event)
            data["text"] = text  # masked whole with the pieces next to it
            line = dumps_json(data)
        elif not self.redactor.needs_redaction(event):
            # Fast path: orjson writes the dataclass itself. Only taken when
            # the event holds plain data with nothing to mask.
            try:
                body = orjson.dumps(event, option=orjson.OPT_NON_STR_KEYS)
            except TypeError:
                pass
            else:
                line = _line_prefix(type(event)) + body[1:]
        if line is None:
            data = self.event_to_dict(event)
            line = dumps_json(data)
        spiller = self._spiller
        if spiller is not None and len(line) > spiller.spill_bytes:
            masked = data if data is not None else self.event_to_dict(event)
            line = dumps_json(spiller.spill(masked))
        buffer = self._buffer
        buffer.append(line)
        if len(buffer) >= self.buffer_size:
            self._hand_off()
        elif self._timer is None:
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:
                self._hand_off()
                return
            self._timer = loop.call_later(self.flush_interval, self._hand_off)

    def _hand_off(self) -> None:
        # Give the buffered lines to the writer thread without waiting for the disk.
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._buffer:
            chunk = b"\n".join(self._buffer) + b"\n"
            self._buffer.clear()
            self._writer.submit(chunk)

    def _release_deltas(self) -> None:
        for delta, text in self._deltas.release():
            self._add(delta, text)

    def flush(self) -> None:
        """Write the buffered lines and wait until they are in the file."""
        self._release_deltas()
        self._hand_off()
        self._writer.wait()

    def close(self) -> None:
        """Flush and close the file (it is reopened if more events arrive)."""
        self._release_deltas()
        self._hand_off()
        self._writer.close()

    def __repr__(self) -> str:
        return f"FileEventHandler({str(self.log_file)!r})"
