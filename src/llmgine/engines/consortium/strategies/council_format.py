"""Reading a council member's review: structured, tagged or plain text."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, Field, field_validator

__all__ = ["STATUSES", "CouncilReview", "Review", "parse_review"]

STATUSES = ("AGREE", "DISAGREE", "NEED_INFO")

_REASONING = re.compile(r"<(think|thinking|reasoning)\b[^>]*>.*?</\1\s*>", re.S | re.I)
_TAG = re.compile(r"<(status|text)>\s*(.*?)\s*(?:</\1>|$)", re.S | re.I)
_STATUS_LINE = re.compile(
    r"^\W*status\W*?[:=]\W*(disagree|needs?[_ -]info(?:rmation)?|agree)\b\W*", re.I | re.M
)
_KEYWORD = re.compile(r"\b(DISAGREE|NEEDS?[_ -]INFO(?:RMATION)?|AGREE)\b")
_LEADING = re.compile(r"^\W*(disagree|needs?[_ -]info(?:rmation)?|agree)\b\W*", re.I)


def _status(value: Any) -> str | None:
    """``AGREE``, ``DISAGREE`` or ``NEED_INFO`` from a loosely written status, or None."""
    text = re.sub(r"[\s-]+", "_", str(value).strip().strip("*.:!\"'`").upper())
    text = "NEED_INFO" if re.fullmatch(r"NEEDS?_INFO(RMATION)?", text) else text
    return text if text in STATUSES else None


class CouncilReview(BaseModel):
    """A participant's review of the other's answer (the structured answer)."""

    status: Literal["AGREE", "DISAGREE", "NEED_INFO"] = Field(
        description="AGREE, DISAGREE (the answer is wrong or incomplete) or NEED_INFO"
    )
    text: str = Field(
        default="", description="why you agree, your critique, or your question to the other"
    )

    @field_validator("status", mode="before")
    @classmethod
    def _loose_status(cls, value: Any) -> Any:
        return _status(value) or value


@dataclass
class Review:
    """A review as the council uses it; ``note`` says why it is not what the reviewer sent."""

    status: str
    text: str = ""
    note: str | None = None


def parse_review(text: str | None) -> Review | None:
    """Read a review from text: JSON, ``<status>`` tags, a ``Status:`` line or a keyword.

    Reasoning sections (``<think>``...) are ignored. A keyword counts only at
    the start of the reply or as the single upper-case status word in it, so
    "I don't fully agree" is not read as AGREE.

    Returns:
        The review, or None when no status can be read.
    """
    text = _REASONING.sub("", text or "").strip()
    for status, body in _readings(text):
        found = _status(status)
        if found:
            return Review(found, str(body).strip())
    return None


def _readings(text: str) -> Iterator[tuple[Any, Any]]:
    """Candidate ``(status, text)`` pairs of a reply, most explicit first."""
    try:
        data = json.loads(re.sub(r"^```(?:json)?\s*|\s*```$", "", text))
    except ValueError:
        data = None
    if isinstance(data, dict):
        yield data.get("status"), data.get("text") or data.get("critique") or ""
    tags = {name.lower(): value for name, value in _TAG.findall(text)}
    if "status" in tags:
        yield tags["status"], tags.get("text") or _TAG.sub("", text)
    line = _STATUS_LINE.search(text)
    if line:
        yield line.group(1), text[: line.start()] + text[line.end() :]
    leading = _LEADING.match(text)
    if leading:
        yield leading.group(1), text[leading.end() :]
    statuses = {_status(word) for word in _KEYWORD.findall(text)}
    if len(statuses) == 1:  # one upper-case status word, maybe repeated; never two
        yield statuses.pop(), text
