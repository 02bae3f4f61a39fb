"""pytest fixtures for LLMgine (loaded automatically through the ``pytest11`` entry point).

* ``bus`` - the ``MessageBus`` singleton, reset and started for this test, its
  data directory in the test's ``tmp_path``; reset again afterwards.
* ``fresh_bus`` - the same, reset but not started.
* ``fake_bus`` - a new :class:`~llmgine.testing.FakeMessageBus`.

``bus`` and ``fresh_bus`` need pytest-asyncio.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from llmgine.bus.bus import MessageBus
from llmgine.testing.fakes import FakeMessageBus

try:
    import pytest_asyncio
except ImportError:  # pragma: no cover - the async fixtures need it
    pytest_asyncio = None  # type: ignore[assignment]


@pytest.fixture
def fake_bus() -> FakeMessageBus:
    """A new recording fake bus."""
    return FakeMessageBus()


if pytest_asyncio is not None:

    @pytest_asyncio.fixture
    async def fresh_bus(tmp_path: Path) -> AsyncIterator[MessageBus]:
        """The bus singleton in a fresh, unstarted state."""
        bus = MessageBus()
        await bus.reset()
        bus.data_dir = tmp_path / "bus-data"
        try:
            yield bus
        finally:
            await bus.reset()

    @pytest_asyncio.fixture
    async def bus(fresh_bus: MessageBus) -> AsyncIterator[MessageBus]:
        """The bus singleton, fresh and started."""
        await fresh_bus.start()
        yield fresh_bus
