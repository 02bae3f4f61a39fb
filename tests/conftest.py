"""Shared test set-up.

The llmgine pytest plugin (fixtures ``bus``, ``fresh_bus``, ``fake_bus``) is loaded
through its entry point; ``recording`` is a started bus that logs to a JSONL file.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import pytest_asyncio

from llmgine.bus.bus import MessageBus
from llmgine.observability.file import FileEventHandler
from log_recording import Recording


@pytest_asyncio.fixture
async def recording(bus: MessageBus, tmp_path: Path) -> AsyncIterator[Recording]:
    handler = FileEventHandler(tmp_path / "logs")
    bus.register_observability_handler(handler)
    try:
        yield Recording(bus, handler)
    finally:
        bus.unregister_observability_handler(handler)
        handler.close()


@pytest.fixture(autouse=True, scope="session")
def _conversations_in_a_temporary_folder(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[None]:
    """Every test (and every program a test starts) keeps conversations in a folder of its own.

    The default conversations file is under ``$XDG_DATA_HOME``: pointed at a
    temporary folder here, so no test touches the user's file.
    """
    saved = {name: os.environ.get(name) for name in ("XDG_DATA_HOME", "LLMGINE_CONVERSATIONS_DB")}
    os.environ["XDG_DATA_HOME"] = str(tmp_path_factory.mktemp("xdg-data"))
    os.environ.pop("LLMGINE_CONVERSATIONS_DB", None)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@pytest.fixture
def web_bus(tmp_path: Path) -> Iterator[MessageBus]:
    """The bus singleton, fresh and not started: an app under Starlette's TestClient starts
    it (and attaches any transport) in the client's own loop (the web tests)."""
    import asyncio

    bus = MessageBus()
    asyncio.run(bus.reset())
    bus.data_dir = tmp_path / "bus-data"
    yield bus
    asyncio.run(bus.reset())
