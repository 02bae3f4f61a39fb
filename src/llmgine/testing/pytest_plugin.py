"""pytest fixtures for LLMgine (loaded automatically through the ``pytest11`` entry point).

* ``bus`` - the ``MessageBus`` singleton, reset and started for this test, its
  data directory in the test's ``tmp_path``; reset again afterwards.
* ``fresh_bus`` - the same, reset but not started.
* ``fake_bus`` - a new :class:`~llmgine.testing.FakeMessageBus`.

``bus`` and ``fresh_bus`` need pytest-asyncio (the ``testing`` extra). With it
installed, ``async def`` tests run without any configuration: the plugin marks
them ``@pytest.mark.asyncio`` unless they carry another async framework's
marker (``anyio``, ``trio``), so ``asyncio_mode`` need not be set.

Real model calls are blocked for the whole run, so a test can never spend
money or hang on the internet: a provider model aimed at anything but this
machine raises ``ModelRequestsBlockedError``. Mark a test
``@pytest.mark.allow_model_requests`` (or set ``LLMGINE_ALLOW_MODEL_REQUESTS=1``)
to let it through.
"""

from __future__ import annotations

import inspect
import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from llmgine.bus.bus import MessageBus
from llmgine.providers import guard
from llmgine.testing.fakes import FakeMessageBus

try:
    import pytest_asyncio
except ImportError:  # pragma: no cover - the async fixtures need it
    pytest_asyncio = None  # type: ignore[assignment]


def pytest_configure(config: pytest.Config) -> None:
    """Block real model calls unless the environment explicitly allows them."""
    config.addinivalue_line("markers", "allow_model_requests: let this test call real model APIs")
    if os.environ.get("LLMGINE_ALLOW_MODEL_REQUESTS", "").lower() not in {"1", "true", "yes"}:
        guard.allow_model_requests(False)


#: Markers of async test runners other than pytest-asyncio: their tests are left alone.
_OTHER_ASYNC_MARKERS = frozenset({"anyio", "trio"})


@pytest.hookimpl(tryfirst=True)
def pytest_pycollect_makeitem(collector: pytest.Collector, name: str, obj: Any) -> None:
    """Mark ``async def`` tests for pytest-asyncio, so they run in its strict mode too.

    Runs before the items are made (pytest-asyncio decides from the marks it
    finds then); returns None so pytest goes on collecting as usual.
    """
    if pytest_asyncio is None or not inspect.iscoroutinefunction(obj):
        return
    is_test = getattr(collector, "funcnamefilter", None)
    if is_test is None or not is_test(name):
        return
    marks = {mark.name for mark in getattr(obj, "pytestmark", [])}
    if "asyncio" not in marks and not marks & _OTHER_ASYNC_MARKERS:
        pytest.mark.asyncio(obj)


@pytest.fixture(autouse=True)
def _llmgine_model_request_guard(request: pytest.FixtureRequest) -> Iterator[None]:
    """Let tests marked ``allow_model_requests`` through; restore the switch after each test."""
    before = guard.model_requests_allowed()
    if request.node.get_closest_marker("allow_model_requests") is not None:
        guard.allow_model_requests(True)
    try:
        yield
    finally:
        guard.allow_model_requests(before)


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
