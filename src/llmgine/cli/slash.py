"""The slash command registry: :class:`SlashCommand`, :class:`SlashCommands`, parsing.

A command is a function called with the text after its name (``/model
openai:gpt-4.1`` calls ``model("openai:gpt-4.1")``); functions that take no
argument are called without it, and async functions are awaited.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from llmgine.cli._util import accepts_arguments, call_maybe_async

__all__ = ["SlashCommand", "SlashCommands", "parse_slash_command"]


@dataclass
class SlashCommand:
    """One command: its name (without the slash), function and one-line help.

    ``available`` (optional) says whether the command applies to the CLI's
    engine right now; ``/help`` lists only the available commands.
    """

    name: str
    func: Callable[..., Any]
    help: str = ""
    available: Callable[[], bool] | None = None

    @property
    def is_available(self) -> bool:
        """True unless ``available`` says otherwise."""
        return self.available is None or bool(self.available())

    async def run(self, args: str) -> Any:
        """Call the function (with ``args`` if it takes an argument)."""
        if accepts_arguments(self.func, 1):
            return await call_maybe_async(self.func, args)
        return await call_maybe_async(self.func)


def parse_slash_command(line: str) -> tuple[str, str] | None:
    """``("model", "gpt-4.1")`` for ``"/model gpt-4.1"``; None if the line is no command.

    A line starting with ``//`` is a message that starts with ``/``, not a command.
    """
    text = line.strip()
    if not text.startswith("/") or text.startswith("//") or len(text) == 1:
        return None
    name, _, args = text[1:].partition(" ")
    if not name or name[0].isspace():
        return None
    return name.lower(), args.strip()


class SlashCommands:
    """The CLI's commands by name."""

    def __init__(self) -> None:
        self._commands: dict[str, SlashCommand] = {}

    def register(
        self,
        name: str,
        func: Callable[..., Any],
        help: str = "",  # noqa: A002
        available: Callable[[], bool] | None = None,
    ) -> None:
        """Add (or replace) the command ``name`` (a leading ``/`` is ignored)."""
        key = name.lstrip("/").strip().lower()
        if not key or " " in key:
            raise ValueError(f"invalid command name {name!r}")
        self._commands[key] = SlashCommand(key, func, help, available)

    def get(self, name: str) -> SlashCommand | None:
        """The command ``name``, if registered."""
        return self._commands.get(name.lstrip("/").lower())

    def __contains__(self, name: str) -> bool:
        return self.get(name) is not None

    def __iter__(self) -> Iterator[SlashCommand]:
        return iter(self._commands.values())
