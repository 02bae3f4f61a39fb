"""Running one tool call: parse, validate, call (awaited or in a thread), time out.

Every failure becomes a message the model can act on; nothing here raises
for a bad call.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from llmgine.tools.definition import Tool
from llmgine.tools.schema import validate_arguments
from llmgine.tools.tool_call import ToolCall

__all__ = ["ArgumentsError", "invoke", "parse_arguments"]


class ArgumentsError(Exception):
    """The arguments of a call cannot be used; ``str()`` is the text for the model."""


def _location(loc: tuple[Any, ...]) -> str:
    return ".".join(str(part) for part in loc) or "(arguments)"


def parse_arguments(tool: Tool, call: ToolCall) -> dict[str, Any]:
    """The call's arguments, validated and coerced against the tool's schema.

    Raises:
        ArgumentsError: malformed JSON, not an object, or invalid values; the
            message names each bad argument and what was expected.
    """
    from pydantic import ValidationError

    text = call.arguments if call.arguments and call.arguments.strip() else "{}"
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ArgumentsError(
            f"Error: the arguments for {tool.name} are not valid JSON ({exc.msg} at "
            f"character {exc.pos}). Call it again with a JSON object matching its parameters."
        ) from exc
    if not isinstance(raw, dict):
        raise ArgumentsError(
            f"Error: the arguments for {tool.name} must be a JSON object, got "
            f"{type(raw).__name__}. Call it again with an object of named parameters."
        )
    if tool.validator is not None:  # a JSON-schema tool (MCP): no pydantic model
        return tool.validator(raw)
    try:
        return validate_arguments(tool, raw)
    except ValidationError as exc:
        problems = []
        for error in exc.errors(include_url=False):
            where = _location(tuple(error.get("loc", ())))
            message = error.get("msg", "invalid")
            if error.get("type") == "missing":
                problems.append(f"- {where}: required but missing")
            elif error.get("type") == "extra_forbidden":
                problems.append(f"- {where}: not a parameter of {tool.name}")
            else:
                given = json.dumps(error.get("input"), default=str)
                problems.append(f"- {where}: {message} (got {given})")
        expected = ", ".join(tool.parameters.get("properties", {})) or "no parameters"
        raise ArgumentsError(
            f"Error: invalid arguments for {tool.name}:\n"
            + "\n".join(problems)
            + f"\nIts parameters are: {expected}."
        ) from exc


async def invoke(tool: Tool, arguments: dict[str, Any], limit: float | None) -> Any:
    """Call the tool: awaited if async, in a worker thread if not; bounded by ``limit`` seconds.

    A sync tool that times out keeps running in its thread (threads cannot be
    stopped); its result is ignored.

    Raises:
        TimeoutError: the call took longer than ``limit``.
        Exception: whatever the tool raised.
    """
    async with asyncio.timeout(limit):
        if tool.is_async:
            value = await tool.function(**arguments)
        else:
            value = await asyncio.to_thread(tool.function, **arguments)
        if asyncio.iscoroutine(value):  # a sync wrapper that returned a coroutine
            value = await value
    return value
