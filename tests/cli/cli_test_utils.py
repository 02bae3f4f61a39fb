"""Helpers shared by the CLI tests."""

from __future__ import annotations

import io

from rich.console import Console


def make_console(width: int = 100) -> Console:
    """A console that writes plain text into a StringIO."""
    return Console(file=io.StringIO(), width=width, force_terminal=False, color_system=None)


def output_of(console: Console) -> str:
    """Everything printed to a :func:`make_console` console."""
    return console.file.getvalue()  # type: ignore[attr-defined]
