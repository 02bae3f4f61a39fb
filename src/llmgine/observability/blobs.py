"""Large values of a log, kept in files beside it: the lines stay small, nothing is cut.

A :class:`~llmgine.observability.file.FileEventHandler` given ``spill_bytes``
writes each (masked) string longer than that to ``<run>.blobs/<sha256>.txt``
beside its log, once per content, and puts a reference in the line instead::

    {"$llmgine_blob": "<sha256>", "bytes": 1048576}

:class:`~llmgine.observability.journal.Journal` (``llmgine logs``, replay, the
web trace view) reads the value back in its place. The blob is found by the
log file's own name and the hash alone (never by a path written in the
line), and checked against the hash.
"""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path
from typing import Any

__all__ = ["BLOB_KEY", "BlobSpiller", "blob_folder", "resolve_blobs"]

#: The key of a reference to a value kept beside the log.
BLOB_KEY = "$llmgine_blob"
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


def blob_folder(log_file: Path) -> Path:
    """The folder of a log's blobs: ``<run>.blobs`` beside it (one per run, parts included)."""
    run = log_file.name.partition(".")[0]
    return log_file.with_name(f"{run}.blobs")


class BlobSpiller:
    """Moves the long strings of a log line's data into blob files.

    Args:
        log_file: The log the blobs belong to.
        spill_bytes: Strings longer than this many characters are spilled.
    """

    def __init__(self, log_file: Path, spill_bytes: int) -> None:
        self.folder = blob_folder(log_file)
        self.spill_bytes = spill_bytes

    def spill(self, value: Any) -> Any:
        """``value`` with its long strings replaced by references (containers copied)."""
        if isinstance(value, str):
            return self._keep(value) if len(value) > self.spill_bytes else value
        if isinstance(value, dict):
            return {key: self.spill(item) for key, item in value.items()}
        if isinstance(value, list):
            return [self.spill(item) for item in value]
        return value

    def _keep(self, text: str) -> dict[str, Any]:
        data = text.encode("utf-8", errors="surrogatepass")
        digest = hashlib.sha256(data).hexdigest()
        path = self.folder / f"{digest}.txt"
        if not path.exists():
            # On the caller's thread: only values past spill_bytes come here, rarely.
            self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
            partial = path.with_name(f".{digest}.{os.getpid()}.tmp")
            fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            try:
                view = memoryview(data)
                while view:
                    view = view[os.write(fd, view) :]
            finally:
                os.close(fd)
            os.replace(partial, path)  # whole or not at all
        return {BLOB_KEY: digest, "bytes": len(data)}


def resolve_blobs(value: Any, log_file: Path, problems: list[str], where: str) -> Any:
    """``value`` with each blob reference replaced by the text it stands for.

    A blob that is missing, unreadable or does not match its hash is
    reported in ``problems`` (``where: why``) and left as its reference.
    """
    if isinstance(value, dict):
        digest = value.get(BLOB_KEY)
        if isinstance(digest, str) and len(value) <= 2:
            return _read(digest, log_file, problems, where, value)
        return {key: resolve_blobs(item, log_file, problems, where) for key, item in value.items()}
    if isinstance(value, list):
        return [resolve_blobs(item, log_file, problems, where) for item in value]
    return value


def _read(
    digest: str, log_file: Path, problems: list[str], where: str, reference: dict[str, Any]
) -> Any:
    if not _SHA256.match(digest):
        problems.append(f"{where}: a blob reference that is not a SHA-256 ({digest[:80]!r})")
        return reference
    path = blob_folder(log_file) / f"{digest}.txt"
    try:
        data = path.read_bytes()
    except OSError as exc:
        problems.append(f"{where}: blob {digest} cannot be read ({exc.strerror or exc})")
        return reference
    if hashlib.sha256(data).hexdigest() != digest:
        problems.append(f"{where}: blob {digest} does not match its hash (changed or damaged)")
        return reference
    return data.decode("utf-8", errors="surrogatepass")
