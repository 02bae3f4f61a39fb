"""Helper for test_messages: a message class built with postponed annotations.

With ``from __future__ import annotations`` every hint is a string. A class
defined inside a function can name a type that only exists in that function,
so its hints cannot all be resolved later; the ones that can must still be used.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from llmgine.messages import Event


@dataclass
class Point:
    x: int = 0
    y: int = 0


def make_event() -> Event:
    @dataclass
    class LocalOnly:
        z: int = 0

    class Postponed(Event):
        when: dt.datetime | None = None
        point: Point | None = None
        local: LocalOnly | None = None

    return Postponed(
        when=dt.datetime(2024, 5, 6, 7, 8, 9, tzinfo=dt.UTC),
        point=Point(1, 2),
        local=LocalOnly(3),
    )
