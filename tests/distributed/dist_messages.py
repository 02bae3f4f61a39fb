"""Message classes shared by the tests and their worker processes (same registry names)."""

from __future__ import annotations

from llmgine import Command, Event, ScheduledEvent


class Echo(Command):
    text: str = ""


class Slow(Command):
    """Runs ``seconds``, counting each start, finish and cancel in Redis by command_id."""

    seconds: float = 0.0
    key: str = ""


class Poison(Command):
    """Kills the worker that runs it (SIGKILL), every time."""


class Traced(Command):
    """Publishes a TracedEvent from its handler (trace and parent ids cross processes)."""


class SessionOnly(Command):
    """Handled in the session a worker registers it in (``--session``), or in ROOT by
    workers started with ``--root-session-only``; runs ``seconds``, counting starts
    and finishes in Redis like Slow."""

    seconds: float = 0.0


class Turn(Command):
    """A conversation's turn: served in ROOT by workers started with ``--sticky``, whose
    handler keeps the session (registers a handler in it) like ``llmgine worker``."""


class Ping(Command):
    """Sent by a worker started with ``--ping`` (handled by the test's own node)."""


class Note(Event):
    text: str = ""


class TracedEvent(Event):
    pass


class Tick(ScheduledEvent):
    n: int = 0


class Local(Event):
    """Never shared."""
