"""Fixtures of the web front end's tests."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from llmgine.bus.bus import MessageBus


@pytest.fixture
def web_bus(tmp_path: Path) -> Iterator[MessageBus]:
    """The bus singleton, fresh; the app starts it (and any transport) in the client's loop."""
    bus = MessageBus()
    asyncio.run(bus.reset())
    bus.data_dir = tmp_path / "bus-data"
    yield bus
    asyncio.run(bus.reset())
