"""Commands: requests for an action, handled by exactly one handler."""

from __future__ import annotations

import datetime as _dt
import sys
from dataclasses import dataclass, field
from typing import Any

from llmgine.messages.base import Message, frame_site, stamp, utcnow
from llmgine.messages.trace import new_id

__all__ = ["Command", "CommandResult"]


class Command(Message, kw_only=True):
    """Base class of every command.

    Subclass it and add fields; the subclass becomes a dataclass by itself::

        class Translate(Command):
            text: str = ""

    Attributes:
        command_id: Unique id of this command.
        timestamp: When the command was created (UTC).
        session_id: The session it belongs to; ``"ROOT"`` when none.
        metadata: Free-form data; ``emitted_from`` records where it was created.
        parent_id: Id of the message being handled when this one was created.
        trace_id: Shared by every message caused by one top-level message.
    """

    command_id: str = field(default_factory=new_id)
    timestamp: _dt.datetime = field(default_factory=utcnow)
    session_id: str = "ROOT"
    metadata: dict[str, Any] = field(default_factory=dict)
    parent_id: str | None = None
    trace_id: str | None = None

    def __post_init__(self) -> None:
        stamp(self, self.command_id)

    @property
    def message_id(self) -> str:
        """This command's id."""
        return self.command_id


@dataclass
class CommandResult:
    """The outcome of executing a command.

    Attributes:
        success: Whether the command did what it was asked.
        command_id: Id of the command this answers (filled in by the bus).
        result: The handler's return value.
        error: A readable error when ``success`` is false.
        metadata: Free-form data; ``finished_in`` records where it was created,
            and a failed handler's traceback is kept under ``exception_details``.
        session_id: The session of the command (filled in by the bus).
        timestamp: When the result was created (UTC).
    """

    success: bool
    command_id: str | None = None
    result: Any = None
    error: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    session_id: str | None = None
    timestamp: _dt.datetime = field(default_factory=utcnow)

    def __post_init__(self) -> None:
        if "finished_in" not in self.metadata:
            self.metadata["finished_in"] = frame_site(sys._getframe(2))
