"""Saving the bus's undelivered events across a restart.

``stop()`` writes every scheduled event that has not fired, and every event
still queued, to ``<data_dir>/pending_events.jsonl`` (one JSON object per line,
written to a temporary file and renamed, so a crash never leaves half a file).
``start()`` reads it back and removes it. A file that cannot be read, or lines
that cannot be rebuilt, are reported with a warning and the file is moved
aside (``*.corrupt-<time>``, ``-2``, ``-3``... when that name is taken: a kept
file is never overwritten) so nothing is lost; the bus starts anyway.
"""

from __future__ import annotations

import logging
import os
import tempfile
import time
from collections.abc import Iterable
from pathlib import Path

import orjson

from llmgine.messages.events import Event

__all__ = ["PENDING_FILENAME", "default_data_dir", "load_pending", "save_pending"]

logger = logging.getLogger("llmgine.bus")

PENDING_FILENAME = "pending_events.jsonl"


def default_data_dir() -> Path:
    """``$LLMGINE_DATA_DIR`` if set, else ``logs/`` under the working directory."""
    configured = os.environ.get("LLMGINE_DATA_DIR")
    return Path(configured) if configured else Path.cwd() / "logs"


def save_pending(data_dir: Path, events: Iterable[Event]) -> Path | None:
    """Write ``events`` to the pending file atomically; return its path (None if nothing).

    Lines of a pending file that was never loaded (a bus stopped without being
    started) are kept in front of the new ones.
    """
    lines = [orjson.dumps(event.to_dict()) for event in events]
    path = data_dir / PENDING_FILENAME
    try:
        previous = path.read_bytes().splitlines() if path.exists() else []
    except OSError:
        previous = []
    lines = [line for line in previous if line.strip()] + lines
    if not lines:
        return None
    data_dir.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=".pending-", dir=data_dir)  # created 0600
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(b"\n".join(lines) + b"\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp_name, path)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
    return path


_MAX_KEPT_PER_SECOND = 1000


def _move_aside(path: Path) -> Path | None:
    """Move ``path`` to an unused ``<name>.corrupt-<time>[-N]``; None if it cannot be moved.

    The new name is claimed first (created exclusively), so two files moved
    aside in the same second, by this process or another, never overwrite
    each other.
    """
    stamp = time.strftime("%Y%m%d-%H%M%S")
    for number in range(1, _MAX_KEPT_PER_SECOND + 1):
        suffix = "" if number == 1 else f"-{number}"
        target = path.with_name(f"{path.name}.corrupt-{stamp}{suffix}")
        try:
            fd = os.open(target, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
        except FileExistsError:
            continue
        except OSError:
            return None
        os.close(fd)
        try:
            os.replace(path, target)  # onto the empty file claimed above
        except OSError:
            target.unlink(missing_ok=True)
            return None
        return target
    return None


def load_pending(data_dir: Path) -> list[Event]:
    """Read and remove the pending file; return the events it held, in order.

    Never raises for a bad file: problems are logged as one warning that says
    what happened and where the file was kept.
    """
    path = data_dir / PENDING_FILENAME
    if not path.exists():
        return []
    try:
        raw = path.read_bytes()
    except OSError as exc:
        kept = _move_aside(path)
        logger.warning(
            "Could not read saved bus events from %s (%s); %s",
            path,
            exc,
            f"the file was moved to {kept}" if kept else "the file was left in place",
        )
        return []
    events: list[Event] = []
    bad: list[str] = []
    for number, line in enumerate(raw.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            events.append(Event.from_dict(orjson.loads(line)))
        except Exception as exc:
            bad.append(f"line {number}: {exc}")
    if bad:
        kept = _move_aside(path)
        logger.warning(
            "Saved bus events in %s were partly unreadable (%d of %d lines; first: %s). "
            "The %d readable events will be delivered; the original file was kept as %s.",
            path,
            len(bad),
            len(bad) + len(events),
            bad[0],
            len(events),
            kept or path,
        )
        if kept is None:  # could not move it: do not deliver the same events twice
            return events
    else:
        path.unlink(missing_ok=True)
    return events
