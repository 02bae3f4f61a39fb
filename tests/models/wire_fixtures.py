"""Wire fixtures made from responses recorded from the real provider APIs.

Each file in ``wire/`` says where it was recorded: a ``source`` field in the
JSON files, ``: source:`` comment lines (ignored by SSE parsers) in the
``.sse`` files. Shortened recordings say what was left out.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from fake_server import Reply, json_reply, sse_file_reply

WIRE = Path(__file__).parent / "wire"


def recorded(name: str) -> dict[str, Any]:
    """The JSON fixture ``wire/<name>.json`` (its ``source`` included)."""
    return json.loads((WIRE / f"{name}.json").read_text())


def recorded_reply(name: str, key: str = "response", index: int | None = None) -> Reply:
    """A JSON reply with a recorded body (``responses[index]`` when ``index`` is given)."""
    data = recorded(name)
    body = data[key] if index is None else data[key][index]
    return json_reply(body)


def recorded_stream(name: str, **fault: Any) -> Reply:
    """The recorded SSE body ``wire/<name>.sse`` (``drop_after=``, ``stall_after=``: a fault)."""
    return sse_file_reply(WIRE / f"{name}.sse", **fault)


def recorded_events(name: str) -> list[bytes]:
    """The events of ``wire/<name>.sse``, one chunk each."""
    from fake_server import sse_events

    return sse_events((WIRE / f"{name}.sse").read_text())
