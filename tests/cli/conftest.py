from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from cli_test_utils import make_console
from prompt_toolkit.input import PipeInput, create_pipe_input
from prompt_toolkit.output import DummyOutput
from rich.console import Console

from llmgine.cli import EngineCLI


@pytest.fixture
def console() -> Console:
    return make_console()


@pytest.fixture
def pipe_input() -> Iterator[PipeInput]:
    with create_pipe_input() as pipe:
        yield pipe


@pytest.fixture
def make_cli(console: Console, pipe_input: PipeInput, tmp_path: Path) -> Callable[..., EngineCLI]:
    """An EngineCLI (session "s1") writing to ``console`` and reading ``pipe_input``."""

    def make(session_id: str = "s1", **kwargs: object) -> EngineCLI:
        return EngineCLI(
            session_id,
            console=console,
            input=pipe_input,
            output=DummyOutput(),
            history_file=tmp_path / "history",
            **kwargs,  # type: ignore[arg-type]
        )

    return make
