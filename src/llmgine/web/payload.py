"""What a page receives of a bus message: its dict, with every secret masked.

Events become the dict the JSONL log holds (``event_type`` first, then every
field), passed through the redactor. Streamed text needs one more step: a
secret may arrive split over two deltas (``"sk-pro"`` then ``"j-..."``),
and neither half looks like a key. :class:`StreamMasker` lets streamed text
through only up to the end of a word, so every piece it masks holds whole
words and no key is ever cut in two.
"""

from __future__ import annotations

from typing import Any

from llmgine.observability.redaction import Redactor
from llmgine.observability.streams import MAX_HELD, StreamMasker

__all__ = ["MAX_HELD", "StreamMasker", "message_payload"]


def message_payload(message: Any, redactor: Redactor) -> dict[str, Any]:
    """``message`` (an event or a command) as a JSON-compatible dict with secrets masked.

    The same shape as a log line: ``event_type`` (the class name) first.
    """
    data = {"event_type": type(message).__name__, **message.to_dict()}
    masked: dict[str, Any] = redactor.redact(data)
    return masked
