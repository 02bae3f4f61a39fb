"""Masking streamed text: a secret may arrive split over two pieces of a stream.

A streaming model sends its answer in pieces (``"sk-pro"``, then
``"j-..."``) and neither half looks like a key. The masks here see whole
words: a key never spans whitespace, so text is masked only in runs that
end at whitespace (or at the stream's end).

* :class:`StreamMasker` - for a live view (the web page): lets text through
  a whole word at a time.
* :class:`HeldDeltas` - for a log: holds the delta events of a stream until
  their text can be masked whole, then gives them back in order; when a
  secret was masked, the masked text goes in the first of them and the
  others are left empty, so they still join into the (masked) whole.
"""

from __future__ import annotations

import re

from llmgine.messages.events import StreamDeltaEvent
from llmgine.observability.redaction import Redactor

__all__ = ["MAX_HELD", "HeldDeltas", "StreamMasker", "safe_cut"]

# The end of the last run of whitespace; a key never spans whitespace.
_LAST_SPACE = re.compile(r"\s+(?=\S*$)")
# "Bearer <token>": the token is masked only with its "Bearer " in the same piece.
_BEARER_TAIL = re.compile(r"(?:^|\s)[Bb]earer\s*$")
#: Held text past this many characters is let through anyway (no word is that long).
MAX_HELD = 65_536


def safe_cut(text: str) -> int:
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


def _ends_a_word(before: str, after: str) -> bool:
    """Whether the boundary between ``before`` and ``after`` splits no word (nor a Bearer)."""
    if not before or not after:
        return False
    return (before[-1].isspace() or after[0].isspace()) and not _BEARER_TAIL.search(before)


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
        cut = safe_cut(self._held)
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


#: A delta event to write, and the text to write for it (None: its own).
Release = list[tuple[StreamDeltaEvent, str | None]]


class HeldDeltas:
    """The delta events of one stream at a time, held until their text is whole words.

    Feed every event in order: :meth:`add` for a delta, :meth:`release`
    before any other event (and before a flush). The events come back in the
    order they came; nothing is held across another event, so a log keeps
    the bus's order.

    Args:
        redactor: What masks the secrets.
    """

    def __init__(self, redactor: Redactor) -> None:
        self.redactor = redactor
        self._held: list[StreamDeltaEvent] = []
        self._text = ""
        self._key: tuple[object, ...] | None = None

    @property
    def holding(self) -> bool:
        """True while some delta events are held."""
        return bool(self._held)

    def add(self, event: StreamDeltaEvent) -> Release:
        """Hold ``event``; the events that may be written now, in order."""
        key = (type(event), event.session_id, event.trace_id, event.parent_id)
        ready: Release = []
        if self._held and (key != self._key or _ends_a_word(self._text, event.text)):
            ready = self.release()
        self._key = key
        self._held.append(event)
        self._text += event.text
        text = self._text
        ends = bool(text) and text[-1].isspace() and not _BEARER_TAIL.search(text)
        if ends or len(text) > MAX_HELD:
            ready += self.release()
        return ready

    def release(self) -> Release:
        """Every held event, in order (the stream ended, or something else came)."""
        held, text = self._held, self._text
        self._held, self._text, self._key = [], "", None
        if not held:
            return []
        masked = self.redactor.redact_text(text)
        if masked == text:
            return [(event, None) for event in held]
        return [(held[0], masked), *((event, "") for event in held[1:])]
