"""Helper for test_messages: a ``Note`` event whose short name clashes with msgtest_scope_alpha."""

from llmgine.messages import Event


class Note(Event):
    count: int = 0
