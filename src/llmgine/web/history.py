"""A stored conversation as the page shows it when a tab continues one.

The engine's context holds the conversation as the models' messages (tool
calls, tool results, thinking blocks, content parts). The page needs less:
who said what, which tools were called with what, and what they returned.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from llmgine.models.response import content_text

__all__ = ["MAX_SHOWN", "transcript"]

#: Messages a page is sent of a continued conversation (the most recent ones).
MAX_SHOWN = 200
_TOOL_RESULT_SHOWN = 2000


def transcript(messages: Iterable[dict[str, Any]], limit: int = MAX_SHOWN) -> dict[str, Any]:
    """The page's view of ``messages``: ``items`` (the last ``limit``) and ``omitted``.

    Each item has ``role`` (``user``, ``assistant`` or ``tool``) and ``text``;
    an assistant's has ``tool_calls`` (``name``, ``arguments``), a tool's its
    ``name``. System messages are left out (the page shows the system prompt
    in its own panel).
    """
    items = [item for item in (_item(message) for message in messages) if item is not None]
    shown = items[-limit:] if limit > 0 else []
    return {"items": shown, "omitted": len(items) - len(shown)}


def _item(message: dict[str, Any]) -> dict[str, Any] | None:
    role = str(message.get("role") or "")
    text = content_text(message.get("content"))
    if role == "user":
        return {"role": "user", "text": text}
    if role == "tool":
        if len(text) > _TOOL_RESULT_SHOWN:
            text = text[: _TOOL_RESULT_SHOWN - 1] + "…"
        return {"role": "tool", "name": str(message.get("name") or "tool"), "text": text}
    if role == "assistant":
        calls = [
            {
                "name": str((call.get("function") or {}).get("name") or "tool"),
                "arguments": str((call.get("function") or {}).get("arguments") or ""),
            }
            for call in message.get("tool_calls") or []
            if isinstance(call, dict)
        ]
        return {"role": "assistant", "text": text, "tool_calls": calls}
    return None
