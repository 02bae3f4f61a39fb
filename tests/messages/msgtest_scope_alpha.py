"""Helper for test_messages: a ``Note`` event whose short name clashes with msgtest_scope_beta."""

from llmgine.messages import Event


class Note(Event):
    text: str = ""
