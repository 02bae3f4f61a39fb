"""The line editor's history and the public names of the CLI package."""

from __future__ import annotations

from pathlib import Path

import pytest
from prompt_toolkit.history import FileHistory, InMemoryHistory

import llmgine.cli as cli_package
from llmgine.cli import create_history


def test_history_file_default_is_in_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    history = create_history()
    assert isinstance(history, FileHistory)
    assert Path(history.filename) == tmp_path / ".llmgine_history"


def test_history_file_can_be_chosen(tmp_path: Path):
    history = create_history(tmp_path / "sub" / "hist")
    assert isinstance(history, FileHistory)
    assert (tmp_path / "sub" / "hist").exists()


def test_unwritable_history_falls_back_to_memory(tmp_path: Path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    assert isinstance(create_history(blocker / "history"), InMemoryHistory)


def test_public_names_exist():
    assert cli_package.__all__
    assert [name for name in cli_package.__all__ if not hasattr(cli_package, name)] == []
