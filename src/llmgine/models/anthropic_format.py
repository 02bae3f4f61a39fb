"""Translation between the OpenAI chat format and Anthropic's Messages API.

Pure functions, no network: LLMgine speaks the OpenAI chat format everywhere
(messages, tool schemas, ``tool_choice``, ``response_format``), and the
Anthropic provider translates at the boundary with these (answers with
:mod:`llmgine.models.anthropic_response`, whose names are importable
from here too).

Anthropic differs in ways that matter here:

* the system prompt is a top-level ``system`` parameter, not a message;
* tool calls are ``tool_use`` content blocks of the assistant turn, with the
  arguments as a JSON *object* (``input``), not a string;
* tool results are ``tool_result`` blocks inside a *user* turn;
* turns must alternate, so consecutive turns of one role are merged (several
  tool results become one user turn);
* empty text blocks are rejected;
* with extended thinking on, an assistant turn that calls tools must be sent
  back with its ``thinking`` / ``redacted_thinking`` blocks first, unchanged
  (they travel in the assistant message's ``thinking_blocks``).
"""

from __future__ import annotations

import base64
import json
import urllib.parse
from typing import Any

# The answer side lives in anthropic_response; its names stay importable from here.
from llmgine.models.anthropic_response import (
    anthropic_usage,
    finish_reason,
    parse_message,
    thinking_part,
)
from llmgine.models.response import RedactedThinkingPart, ThinkingPart, content_text

__all__ = [
    "DEFAULT_THINKING_BUDGET",
    "RAW_ARGUMENTS_KEY",
    "anthropic_usage",
    "finish_reason",
    "parse_message",
    "thinking_config",
    "thinking_part",
    "to_anthropic_messages",
    "to_anthropic_tool_choice",
    "to_anthropic_tools",
    "to_output_config",
]

#: Thinking budget for ``thinking=True`` / ``thinking="enabled"`` (Anthropic's minimum is 1024).
DEFAULT_THINKING_BUDGET = 2048

#: Key of the ``input`` object sent for a tool call whose arguments were not a
#: JSON object (Anthropic needs an object): ``{"_raw_arguments": "<the text>"}``.
RAW_ARGUMENTS_KEY = "_raw_arguments"

# Content blocks that already are Anthropic's, passed through as they are.
_ANTHROPIC_BLOCKS = frozenset(
    {
        "image",
        "document",
        "tool_use",
        "tool_result",
        "thinking",
        "redacted_thinking",
        "search_result",
        "server_tool_use",
        "container_upload",
    }
)


# -- messages ---------------------------------------------------------------


def _get(obj: Any, key: str, default: Any = None) -> Any:
    """``obj[key]`` for dicts, ``obj.key`` for SDK / pydantic objects."""
    if isinstance(obj, dict):
        return obj.get(key, default)
    return getattr(obj, key, default)


def _data_url(url: str) -> tuple[str, str] | None:
    """``(media_type, base64_data)`` of a ``data:`` URL, else None."""
    if not url.startswith("data:"):
        return None
    header, _, payload = url[5:].partition(",")
    params = header.split(";")
    media_type = params[0] or "text/plain"
    if "base64" in params[1:]:
        return media_type, payload
    raw = urllib.parse.unquote_to_bytes(payload)
    return media_type, base64.b64encode(raw).decode("ascii")


def _image_block(url: str) -> dict[str, Any]:
    parsed = _data_url(url)
    if parsed is not None:
        media_type, data = parsed
        return {
            "type": "image",
            "source": {"type": "base64", "media_type": media_type, "data": data},
        }
    return {"type": "image", "source": {"type": "url", "url": url}}


def _file_block(file: dict[str, Any]) -> dict[str, Any]:
    data = file.get("file_data")
    parsed = _data_url(data) if isinstance(data, str) else None
    if parsed is None:
        raise ValueError(
            "an OpenAI 'file' content part needs 'file_data' as a base64 data URL "
            "for Anthropic (uploaded file ids are not supported)"
        )
    media_type, payload = parsed
    return {
        "type": "document",
        "source": {"type": "base64", "media_type": media_type, "data": payload},
    }


def _content_blocks(content: Any) -> list[dict[str, Any]]:
    """Anthropic content blocks for an OpenAI message's ``content``.

    Empty text is dropped (Anthropic rejects empty text blocks).
    """
    if content is None:
        return []
    if isinstance(content, str):
        return [{"type": "text", "text": content}] if content.strip() else []
    if isinstance(content, dict):
        content = [content]
    blocks: list[dict[str, Any]] = []
    for part in content:
        if isinstance(part, str):
            blocks.extend(_content_blocks(part))
            continue
        kind = part.get("type")
        if kind == "text":
            text = part.get("text") or ""
            if text.strip():
                # Keep Anthropic extras (cache_control, citations) if present.
                blocks.append({**part, "type": "text", "text": text})
        elif kind == "image_url":
            image = part.get("image_url")
            url = image.get("url") if isinstance(image, dict) else image
            if not isinstance(url, str) or not url:
                raise ValueError("an 'image_url' content part has no url")
            blocks.append(_image_block(url))
        elif kind == "file":
            blocks.append(_file_block(part.get("file") or {}))
        elif kind in _ANTHROPIC_BLOCKS:
            blocks.append(part)
        else:
            raise ValueError(f"content parts of type {kind!r} have no Anthropic equivalent")
    return blocks


def _tool_input(arguments: Any) -> dict[str, Any]:
    """The ``input`` object of a ``tool_use`` block from OpenAI's JSON-string arguments.

    Arguments that are not a JSON object (malformed JSON, a list ...) are kept,
    as text, under :data:`RAW_ARGUMENTS_KEY`, so the conversation can still be sent.
    """
    if isinstance(arguments, dict):
        return arguments
    if arguments is None or arguments == "":
        return {}
    text = arguments if isinstance(arguments, str) else str(arguments)
    try:
        value = json.loads(text)
    except ValueError:
        return {RAW_ARGUMENTS_KEY: text}
    return value if isinstance(value, dict) else {RAW_ARGUMENTS_KEY: text}


def _tool_use_blocks(tool_calls: Any) -> list[dict[str, Any]]:
    blocks = []
    for call in tool_calls or []:
        function = _get(call, "function") or {}
        blocks.append(
            {
                "type": "tool_use",
                "id": _get(call, "id"),
                "name": _get(function, "name"),
                "input": _tool_input(_get(function, "arguments")),
            }
        )
    return blocks


def _thinking_blocks(blocks: Any) -> list[dict[str, Any]]:
    """The ``thinking`` / ``redacted_thinking`` blocks of an assistant message, as they were.

    A thinking block without a signature came from another provider
    (DeepSeek's reasoning, say): Anthropic cannot verify it, so it is left out.
    """
    if not blocks:
        return []
    out = []
    for block in blocks:
        if isinstance(block, ThinkingPart | RedactedThinkingPart):
            block = block.to_dict()
        if not isinstance(block, dict) or block.get("type") not in (
            "thinking",
            "redacted_thinking",
        ):
            raise ValueError(f"thinking_blocks holds {block!r}, not a thinking block")
        if block["type"] == "thinking" and block.get("signature") is None:
            continue
        out.append(dict(block))
    return out


def _tool_result_block(message: dict[str, Any]) -> dict[str, Any]:
    block: dict[str, Any] = {"type": "tool_result", "tool_use_id": message.get("tool_call_id")}
    content = message.get("content")
    if isinstance(content, str):
        if content:
            block["content"] = content
    elif content is not None:
        parts = _content_blocks(content)
        if parts:
            block["content"] = parts
    if message.get("is_error"):
        block["is_error"] = True
    return block


def _simplified(content: list[dict[str, Any]]) -> str | list[dict[str, Any]]:
    """One plain text block as a string (the common case, and easier to read)."""
    if len(content) == 1 and set(content[0]) == {"type", "text"} and content[0]["type"] == "text":
        return content[0]["text"]
    return content


def to_anthropic_messages(
    messages: list[dict[str, Any]],
) -> tuple[str | None, list[dict[str, Any]]]:
    """Anthropic's ``(system, messages)`` for an OpenAI-format conversation.

    * ``system`` (and ``developer``) messages are joined, in order, into the
      ``system`` string (None when there are none);
    * ``user`` / ``assistant`` content becomes content blocks: text, images
      (``image_url`` data URLs as base64 sources, http(s) URLs as url
      sources), PDF ``file`` parts as documents; Anthropic-native blocks pass
      through;
    * assistant ``thinking_blocks`` (thinking with its signature, redacted
      thinking with its data) come first in the turn, unchanged; unsigned
      thinking (another provider's reasoning) is left out;
    * assistant ``tool_calls`` become ``tool_use`` blocks with the parsed
      arguments as ``input`` (arguments that are not a JSON object are sent as
      ``{"_raw_arguments": "<text>"}``);
    * ``tool`` messages become ``tool_result`` blocks in a user turn;
    * consecutive turns of one role are merged into one, tool results first
      (Anthropic requires alternating roles, and results before other content);
    * empty text and empty turns are dropped.

    Raises:
        ValueError: a role or content part with no Anthropic equivalent.
    """
    system: list[str] = []
    turns: list[dict[str, Any]] = []
    for message in messages:
        role = message.get("role")
        if role in ("system", "developer"):
            text = content_text(message.get("content"), sep="\n\n")
            if text:
                system.append(text)
            continue
        if role == "user":
            blocks = _content_blocks(message.get("content"))
        elif role == "assistant":
            # Thinking first, as the model wrote it: the API checks the blocks unchanged.
            blocks = _thinking_blocks(message.get("thinking_blocks"))
            blocks += _content_blocks(message.get("content"))
            blocks += _tool_use_blocks(message.get("tool_calls"))
        elif role == "tool":
            role = "user"
            blocks = [_tool_result_block(message)]
        else:
            raise ValueError(f"messages with role {role!r} have no Anthropic equivalent")
        if not blocks:
            continue
        if turns and turns[-1]["role"] == role:
            turns[-1]["content"].extend(blocks)
        else:
            turns.append({"role": role, "content": blocks})
    for turn in turns:
        if turn["role"] == "user":
            # A stable sort: tool results first, everything else after, in order.
            turn["content"].sort(key=lambda block: block.get("type") != "tool_result")
        turn["content"] = _simplified(turn["content"])
    return ("\n\n".join(system) if system else None), turns


# -- tools ------------------------------------------------------------------


def to_anthropic_tools(tools: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Anthropic tool definitions for OpenAI function tool schemas.

    ``{"type": "function", "function": {"name", "description", "parameters"}}``
    becomes ``{"name", "description", "input_schema"}``; tools already in
    Anthropic's format (server tools, ``input_schema``) pass through.
    """
    converted = []
    for tool in tools:
        if tool.get("type") != "function" or "function" not in tool:
            converted.append(tool)
            continue
        function = tool["function"]
        schema = function.get("parameters") or {"type": "object", "properties": {}}
        definition: dict[str, Any] = {"name": function["name"]}
        if function.get("description"):
            definition["description"] = function["description"]
        definition["input_schema"] = schema
        if function.get("strict") is not None:
            definition["strict"] = bool(function["strict"])
        converted.append(definition)
    return converted


def to_anthropic_tool_choice(
    tool_choice: Any, parallel_tool_calls: bool | None = None
) -> dict[str, Any] | None:
    """Anthropic's ``tool_choice`` for an OpenAI one.

    ``"auto"`` -> ``{"type": "auto"}``, ``"required"`` -> ``{"type": "any"}``,
    ``"none"`` -> ``{"type": "none"}``, ``{"type": "function", "function":
    {"name": X}}`` -> ``{"type": "tool", "name": X}``; an Anthropic one passes
    through; None stays None. ``parallel_tool_calls=False`` (OpenAI's switch)
    becomes ``disable_parallel_tool_use``.
    """
    if tool_choice is None:
        if parallel_tool_calls is False:
            return {"type": "auto", "disable_parallel_tool_use": True}
        return None
    choice: dict[str, Any]
    if isinstance(tool_choice, str):
        mapped = {"auto": "auto", "required": "any", "any": "any", "none": "none"}.get(tool_choice)
        if mapped is None:
            raise ValueError(f"unknown tool_choice {tool_choice!r}")
        choice = {"type": mapped}
    elif isinstance(tool_choice, dict):
        if tool_choice.get("type") == "function":
            name = (tool_choice.get("function") or {}).get("name") or tool_choice.get("name")
            choice = {"type": "tool", "name": name}
        else:
            choice = dict(tool_choice)
    else:
        raise ValueError(f"unknown tool_choice {tool_choice!r}")
    if parallel_tool_calls is False and choice.get("type") != "none":
        choice["disable_parallel_tool_use"] = True
    return choice


def thinking_config(value: Any) -> dict[str, Any] | None:
    """Anthropic's ``thinking`` parameter for a thinking setting.

    * an int ``N`` (or a numeric string) -> ``{"type": "enabled", "budget_tokens": N}``;
    * ``True`` / ``"enabled"`` / ``"on"`` -> enabled with :data:`DEFAULT_THINKING_BUDGET`;
    * ``"adaptive"`` -> ``{"type": "adaptive"}`` (the model decides how much to think);
    * ``False`` / ``0`` / ``"disabled"`` / ``"off"`` -> ``{"type": "disabled"}``;
    * a dict with a ``type`` passes through as it is;
    * None -> None (not sent).

    Raises:
        ValueError: anything else (the message says what is accepted).
    """
    if value is None:
        return None
    if isinstance(value, dict):
        if not isinstance(value.get("type"), str):
            raise ValueError(f"a thinking dict needs a 'type' (enabled, adaptive...): {value!r}")
        return dict(value)
    if isinstance(value, bool):
        value = "enabled" if value else "disabled"
    if isinstance(value, str):
        text = value.strip().lower()
        if text.isdigit():
            value = int(text)
        elif text in ("enabled", "on", "true"):
            return {"type": "enabled", "budget_tokens": DEFAULT_THINKING_BUDGET}
        elif text in ("disabled", "off", "false", "none"):
            return {"type": "disabled"}
        elif text == "adaptive":
            return {"type": "adaptive"}
    if isinstance(value, int) and not isinstance(value, bool):
        if value <= 0:
            return {"type": "disabled"}
        return {"type": "enabled", "budget_tokens": value}
    raise ValueError(
        f"thinking={value!r} is not understood: give a token budget (e.g. 4096), "
        "'adaptive', True/False, or Anthropic's own dict "
        "({'type': 'enabled', 'budget_tokens': 4096})"
    )


def to_output_config(response_format: dict[str, Any] | None) -> dict[str, Any] | None:
    """Anthropic's ``output_config`` for an OpenAI ``response_format``, if it has one.

    A ``json_schema`` format becomes ``{"format": {"type": "json_schema",
    "schema": ...}}`` (Anthropic's structured outputs; the schema is sent as
    given). ``{"type": "json_object"}`` and ``{"type": "text"}`` have no
    Anthropic equivalent and give None (ask for JSON in the prompt instead).
    """
    if not response_format or response_format.get("type") != "json_schema":
        return None
    spec = response_format.get("json_schema") or {}
    schema = spec.get("schema") if isinstance(spec, dict) else None
    if schema is None:
        schema = response_format.get("schema")
    if not isinstance(schema, dict):
        return None
    return {"format": {"type": "json_schema", "schema": schema}}
