"""What a page receives of a bus message: its dict, with every secret masked.

Events become the dict the JSONL log holds (``event_type`` first, then every
field), passed through the redactor. Streamed text needs one more step: a
secret may arrive split over two deltas (``"sk-pro"`` then ``"j-..."``),
and neither half looks like a key. :class:`StreamMasker` lets streamed text
through only up to the end of a word, so every piece it masks holds whole
words and no key is ever cut in two.
"""

from __future__ import annotations

import re
from typing import Any

from llmgine.observability.redaction import Redactor

__all__ = ["StreamMasker", "message_payload"]

# The end of the last run of whitespace; a key never spans whitespace.
_LAST_SPACE = re.compile(r"\s+(?=\S*$)")
# "Bearer <token>": the token is masked only with its "Bearer " in the same piece.
_BEARER_TAIL = re.compile(r"(?:^|\s)[Bb]earer\s+$")
#: Held text past this many characters is let through anyway (no word is that long).
MAX_HELD = 65_536


def message_payload(message: Any, redactor: Redactor) -> dict[str, Any]:
    """``message`` (an event or a command) as a JSON-compatible dict with secrets masked.

    The same shape as a log line: ``event_type`` (the class name) first.
    """
    data = {"event_type": type(message).__name__, **message.to_dict()}
    masked: dict[str, Any] = redactor.redact(data)
    return masked


class StreamMasker:
    """Streamed text, masked, let through a whole word at a time.

    Args:
        redactor: What masks the secrets.
    """

    def __init__(self, redactor: Redactor) -> None:
        self.redactor = redactor
        self._held = ""

    @property
    def held(self) -> str:
        """The text not let through yet (the word being written)."""
        return self._held

    def feed(self, text: str) -> str:
        """Take a piece of the stream; return the masked text that may be shown now ('' if none)."""
        self._held += text
        cut = _safe_cut(self._held)
        if cut == 0 and len(self._held) <= MAX_HELD:
            return ""
        if cut == 0:
            cut = len(self._held)
        ready, self._held = self._held[:cut], self._held[cut:]
        return self.redactor.redact_text(ready)

    def flush(self) -> str:
        """The rest of the stream, masked (the stream ended)."""
        ready, self._held = self._held, ""
        return self.redactor.redact_text(ready) if ready else ""


def _safe_cut(text: str) -> int:
    """Where ``text`` may be cut so that no secret is split: after whitespace; 0 for nowhere."""
    while text:
        found = _LAST_SPACE.search(text)
        if found is None:
            return 0
        head = text[: found.end()]
        if not _BEARER_TAIL.search(head):
            return found.end()
        text = text[: found.start()]  # keep "Bearer " with the token that follows it
    return 0
