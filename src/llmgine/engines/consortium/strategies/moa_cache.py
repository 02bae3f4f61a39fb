"""The mixture-of-agents reference cache: references re-run only when the state changed.

Proposers (the references) judge the *advisory view* of the state: the
conversation as plain text, the user's request and, while the aggregator
acts, its tool calls and results. The view changes with a new user message or
a new tool result; other model calls of one state (a retried aggregator call,
the backup aggregator taking over, a turn asked again after a failure) see the
same view and reuse the references' answers. Answers are kept per stage,
keyed by a SHA-256 of the view and of who was asked, as the MoA seed does.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from llmgine.engines.consortium.members import Member
from llmgine.engines.consortium.run import MemberAnswer
from llmgine.models.response import content_text

__all__ = ["CachedReferences", "ReferenceCache", "view_hash"]


def view_hash(messages: Sequence[dict[str, Any]], members: Sequence[Member]) -> str:
    """SHA-256 of an advisory view (roles and texts) and of the members asked."""
    payload = {
        "members": [f"{member.label}={member.model_string}" for member in members],
        "view": [[m.get("role"), content_text(m.get("content"))] for m in messages],
    }
    text = json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8", "replace")).hexdigest()


@dataclass(frozen=True)
class CachedReferences:
    """The answers of one stage for one view (and, for advice, the text made of them)."""

    key: str
    answers: tuple[MemberAnswer, ...]
    rendered: str | None = None


class ReferenceCache:
    """The last references of each stage (``"layer 1"``, ``"advice"``...), by view hash.

    One entry per stage, as in the seed: a state the references have judged is
    the only one worth remembering; the next state replaces it.
    """

    def __init__(self) -> None:
        self._entries: dict[str, CachedReferences] = {}

    def get(self, stage: str, key: str) -> CachedReferences | None:
        """The stage's answers when they were given for the view ``key``, else None."""
        entry = self._entries.get(stage)
        return entry if entry is not None and entry.key == key else None

    def put(
        self, stage: str, key: str, answers: Sequence[MemberAnswer], rendered: str | None = None
    ) -> None:
        """Remember a stage's answers for a view (only when some member answered)."""
        if any(answer.ok for answer in answers):
            self._entries[stage] = CachedReferences(key, tuple(answers), rendered)

    def clear(self) -> None:
        """Forget every stage's answers."""
        self._entries.clear()
