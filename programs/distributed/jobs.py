"""The messages the client and the workers share (both import this module)."""

from llmgine import Command, Event


class CountWords(Command):
    """Count the words of ``text`` (any worker may answer)."""

    text: str = ""


class Progress(Event):
    """A worker reports what it is doing (shared: it reaches the client)."""

    worker: str = ""
    note: str = ""
