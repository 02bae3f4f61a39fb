"""Helpers shared by the CLI tests."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

from rich.console import Console

#: The ``llmgine`` console script installed with the project.
LLMGINE = Path(sys.executable).with_name("llmgine")


def make_console(width: int = 100) -> Console:
    """A console that writes plain text into a StringIO."""
    return Console(file=io.StringIO(), width=width, force_terminal=False, color_system=None)


def output_of(console: Console) -> str:
    """Everything printed to a :func:`make_console` console."""
    return console.file.getvalue()  # type: ignore[attr-defined]


def run_llmgine(
    args: list[str],
    cwd: Path,
    stdin: str | None = None,
    env: dict[str, str] | None = None,
    command: list[str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run ``llmgine ARGS`` (or ``command``) in ``cwd`` with no API key in its environment."""
    clean = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY")}
    return subprocess.run(
        [*(command or [str(LLMGINE)]), *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=cwd,
        env={**clean, "COLUMNS": "200", **(env or {})},
    )
