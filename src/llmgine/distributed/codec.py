"""Stream records to messages and back: only known classes are rebuilt, nothing is imported.

A record is a flat map of strings: ``id`` (the message's), ``data`` (its
``to_dict()`` as JSON) and ``origin`` (the node that sent it, whose reply
stream gets a command's result); events add ``type`` (unshared types are
skipped undecoded). Decoding goes through ``Message.from_dict``,
which rebuilds only classes already defined in this process, so a record can
never make a node import code; anything else raises ``SerializationError``.
"""

from __future__ import annotations

import datetime as _dt
from typing import Any, TypeVar

import orjson

from llmgine.errors import SerializationError
from llmgine.messages.base import Message
from llmgine.messages.commands import CommandResult
from llmgine.messages.serialization import to_jsonable

__all__ = ["decode_message", "decode_result", "encode_message", "encode_result"]

M = TypeVar("M", bound=Message)


def encode_message(message: Message) -> str:
    """The JSON of ``message.to_dict()`` (never fails: odd values become strings)."""
    return orjson.dumps(message.to_dict()).decode()


def decode_message(fields: dict[str, Any], base: type[M]) -> M:
    """Rebuild the message of a record as its concrete class, a subclass of ``base``.

    Raises:
        SerializationError: the record is malformed, or names a class that is
            not defined in this process or is not a ``base``.
    """
    data = fields.get("data") if isinstance(fields, dict) else None
    if not isinstance(data, str):
        raise SerializationError("malformed record: no 'data' field")
    try:
        decoded = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise SerializationError(f"malformed record: 'data' is not JSON ({exc})") from exc
    if not isinstance(decoded, dict) or "message_type" not in decoded:
        raise SerializationError("malformed record: 'data' does not name a message type")
    try:
        return base.from_dict(decoded)
    except SerializationError:
        raise
    except Exception as exc:  # a value the class's own __post_init__ refused
        raise SerializationError(f"cannot rebuild {decoded['message_type']}: {exc}") from exc


def encode_result(result: CommandResult) -> str:
    """The JSON of a ``CommandResult`` (its ``result`` value as JSON can carry it)."""
    return orjson.dumps(
        {
            "success": result.success,
            "command_id": result.command_id,
            "result": to_jsonable(result.result),
            "error": result.error,
            "metadata": to_jsonable(result.metadata),
            "session_id": result.session_id,
            "timestamp": result.timestamp.isoformat(),
        }
    ).decode()


def decode_result(text: str) -> CommandResult:
    """Rebuild a ``CommandResult`` from :func:`encode_result` output.

    Raises:
        SerializationError: the text is not such a result.
    """
    try:
        data = orjson.loads(text)
        metadata = data.get("metadata") or {}
        metadata.setdefault("finished_in", "remote")
        return CommandResult(
            success=bool(data["success"]),
            command_id=data.get("command_id"),
            result=data.get("result"),
            error=data.get("error"),
            metadata=metadata,
            session_id=data.get("session_id"),
            timestamp=_dt.datetime.fromisoformat(data["timestamp"]),
        )
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError) as exc:
        raise SerializationError(f"malformed command result record: {exc}") from exc
