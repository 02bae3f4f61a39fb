"""Shared test set-up.

The llmgine pytest plugin (fixtures ``bus``, ``fresh_bus``, ``fake_bus``) is loaded
through its entry point; ``recording`` is a started bus that logs to a JSONL file.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

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
