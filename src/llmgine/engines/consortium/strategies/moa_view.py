"""What proposers of a mixture-of-agents see: texts cut head+tail, an advisory transcript."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from llmgine.models.response import content_text

__all__ = ["advisory_view", "truncate_middle"]

Messages = list[dict[str, Any]]


def truncate_middle(text: str, limit: int) -> str:
    """``text`` cut to at most ``limit`` characters, keeping its head and tail.

    The middle is replaced by a marker saying how many characters were left
    out (``[... 1234 characters omitted ...]``), so a reader still sees how
    the text starts and how it ends. A text within the limit is returned
    unchanged; a limit too small for the marker keeps the head only.

    Args:
        text: The text.
        limit: Most characters of the result (marker included).

    Raises:
        ValueError: ``limit`` is below 1.
    """
    if limit < 1:
        raise ValueError(f"limit must be at least 1, got {limit}")
    if len(text) <= limit:
        return text
    # The marker's length depends on the count it shows: find the digit count that fits.
    digits = 1
    while True:
        keep = limit - len("\n[...  characters omitted ...]\n") - digits
        omitted = len(text) - keep
        if len(str(omitted)) <= digits:
            break
        digits += 1
    if keep < 2:
        return text[:limit]
    marker = f"\n[... {omitted} characters omitted ...]\n"
    head = keep - keep // 2
    return text[:head] + marker + text[len(text) - keep // 2 :]


def _call_line(call: Any) -> str:
    function = call.get("function", call) if isinstance(call, dict) else {}
    name = function.get("name") or "tool"
    arguments = content_text(function.get("arguments"))
    return f"[called tool: {name}({arguments})]"


def advisory_view(messages: Sequence[dict[str, Any]], limit: int) -> Messages:
    """A conversation as plain user/assistant text, for proposers (who never get tools).

    System messages are dropped; an assistant's tool calls become
    ``[called tool: name(args)]`` lines; each tool result is cut head+tail to
    ``limit`` characters and folded into the assistant turn before it as
    ``[tool result (name): ...]``. No tool messages or ``tool_calls`` remain,
    so any provider accepts the view.

    Args:
        messages: OpenAI-format messages.
        limit: Most characters shown of each tool result.
    """
    view: Messages = []
    for message in messages:
        role, text = message.get("role"), content_text(message.get("content"))
        if role == "user":
            view.append({"role": "user", "content": text})
        elif role == "assistant":
            lines = [text.strip()] if text.strip() else []
            lines += [_call_line(call) for call in message.get("tool_calls") or []]
            if lines:
                view.append({"role": "assistant", "content": "\n".join(lines)})
        elif role == "tool":
            name = message.get("name") or "tool"
            block = f"[tool result ({name}): {truncate_middle(text, limit)}]"
            if view and view[-1]["role"] == "assistant":
                view[-1] = {"role": "assistant", "content": f"{view[-1]['content']}\n{block}"}
            else:
                view.append({"role": "assistant", "content": block})
    return view
