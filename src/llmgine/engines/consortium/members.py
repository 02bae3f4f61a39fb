"""Consortium members: parsing ``"provider:model:count"`` and anonymous labels."""

from __future__ import annotations

import string
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from llmgine.models.interface import Model
from llmgine.models.registry import get_model

__all__ = ["Member", "MemberSpec", "parse_members"]

#: Members as given: model strings or models (``"openai:gpt-4.1-mini:2"`` for two
#: instances), or a mapping of model (string) to instance count.
MemberSpec = Sequence[str | Model] | Mapping[str | Model, int]


@dataclass
class Member:
    """One member of a consortium.

    Attributes:
        label: Anonymous name shown to combiners (``"Member A"``); never the model.
        model: The model that answers.
        instance: 1 for the first instance of a model, 2 for the second...
    """

    label: str
    model: Model
    instance: int = 1

    @property
    def model_string(self) -> str:
        """``provider:model`` of the member (for logs and UIs, not for the arbiter)."""
        return self.model.model_string


def _split_count(text: str) -> tuple[str, int]:
    head, sep, tail = text.rpartition(":")
    if sep and tail.isdigit() and head:
        return head, int(tail)
    return text, 1


def _label(index: int) -> str:
    letters = string.ascii_uppercase
    name = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        name = letters[rest] + name
    return f"Member {name}"


def parse_members(spec: MemberSpec, **model_settings: Any) -> list[Member]:
    """Members from strings, models or a mapping of model to count.

    ``["openai:gpt-4.1-mini:2", "anthropic:claude-haiku-4-5"]`` gives three
    members. Labels (``"Member A"``, ...) are assigned in order.

    Raises:
        ValueError: no members, or a count below 1.
        UnknownModelError: a model string no provider knows.
    """
    pairs: list[tuple[str | Model, int]] = []
    if isinstance(spec, Mapping):
        pairs = list(spec.items())
    else:
        for item in spec:
            if isinstance(item, str):
                pairs.append(_split_count(item.strip()))
            else:
                pairs.append((item, 1))
    members: list[Member] = []
    for item, count in pairs:
        if count < 1:
            raise ValueError(f"instance count of {item!r} must be at least 1, got {count}")
        for instance in range(1, count + 1):
            model = item if isinstance(item, Model) else get_model(item, **model_settings)
            members.append(Member(_label(len(members)), model, instance))
    if not members:
        raise ValueError("a consortium needs at least one member")
    return members
