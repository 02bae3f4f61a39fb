"""The line editor of the CLI: a prompt_toolkit session with history and the CLI's keys.

Keys:

* **Enter** sends the message.
* **Alt+Enter** (or **Esc** then **Enter**) starts a new line; pasted text keeps
  its newlines.
* **Up/Down** walk through the history, which is kept in ``~/.llmgine_history``
  across runs (``history_file`` chooses another file).
* **Ctrl-C** discards the line being typed; at an empty prompt it warns, and a
  second Ctrl-C in a row quits.
* **Ctrl-D** at an empty prompt quits.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from enum import Enum
from pathlib import Path

from prompt_toolkit import PromptSession
from prompt_toolkit.formatted_text import FormattedText
from prompt_toolkit.history import FileHistory, History, InMemoryHistory
from prompt_toolkit.input import Input
from prompt_toolkit.key_binding import KeyBindings, KeyPressEvent
from prompt_toolkit.output import Output

__all__ = [
    "DEFAULT_HISTORY_FILE",
    "KEY_HINT",
    "Interrupted",
    "create_history",
    "create_input_session",
]

#: Where the input history is kept when no other file is given.
DEFAULT_HISTORY_FILE = "~/.llmgine_history"

#: The one-line summary of the keys (shown at start-up and in the bottom toolbar).
KEY_HINT = "Enter send · Alt+Enter (Esc Enter) new line · /help commands · Ctrl-D quit"


class Interrupted(Enum):
    """What ``prompt_async`` returns when the user pressed Ctrl-C."""

    #: Ctrl-C at an empty prompt.
    EMPTY = "empty"
    #: Ctrl-C with text typed: the text is discarded.
    DISCARDED = "discarded"


def create_history(history_file: str | os.PathLike[str] | None = None) -> History:
    """A file history at ``history_file`` (default ``~/.llmgine_history``).

    When the file cannot be written (a read-only home, say) the history is
    kept in memory for this run instead of failing later.
    """
    path = Path(os.path.expanduser(os.fspath(history_file or DEFAULT_HISTORY_FILE)))
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("ab"):
            pass
    except OSError:
        return InMemoryHistory()
    return FileHistory(str(path))


def _key_bindings() -> KeyBindings:
    key_bindings = KeyBindings()

    @key_bindings.add("enter")
    def _send(event: KeyPressEvent) -> None:
        """Enter sends (the session is multi-line, so Enter would add a line)."""
        event.current_buffer.validate_and_handle()

    @key_bindings.add("escape", "enter")
    @key_bindings.add("escape", "c-j")
    def _new_line(event: KeyPressEvent) -> None:
        """Alt+Enter (Esc, Enter) adds a line."""
        event.current_buffer.insert_text("\n")

    @key_bindings.add("c-c")
    def _interrupt(event: KeyPressEvent) -> None:
        """Ctrl-C: discard the line, or report an empty-prompt Ctrl-C to the CLI."""
        buffer = event.current_buffer
        result = Interrupted.DISCARDED if buffer.text else Interrupted.EMPTY
        event.app.exit(result=result)

    return key_bindings


def create_input_session(
    *,
    history: History | None = None,
    input: Input | None = None,  # noqa: A002 - prompt_toolkit's name
    output: Output | None = None,
    toolbar: Callable[[], str] | None = None,
) -> PromptSession[str | Interrupted]:
    """The prompt_toolkit session the CLI reads messages with.

    ``prompt_async()`` returns the text, or an :class:`Interrupted` value for
    Ctrl-C, and raises ``EOFError`` for Ctrl-D at an empty prompt.

    Args:
        history: Where entered lines are remembered (default: in memory).
        input: prompt_toolkit input (default: the terminal).
        output: prompt_toolkit output (default: the terminal).
        toolbar: Returns the bottom toolbar's text (default: the key hint).
    """

    def bottom_toolbar() -> FormattedText:
        return FormattedText([("", f" {(toolbar() if toolbar else KEY_HINT)} ")])

    return PromptSession(
        message=FormattedText([("bold ansicyan", "> ")]),
        multiline=True,
        prompt_continuation=lambda width, line_number, is_soft_wrap: "." * (width - 1) + " ",
        key_bindings=_key_bindings(),
        history=history or InMemoryHistory(),
        bottom_toolbar=bottom_toolbar,
        enable_history_search=False,
        input=input,
        output=output,
    )
