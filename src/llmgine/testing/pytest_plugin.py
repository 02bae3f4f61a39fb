"""pytest fixtures for LLMgine (loaded automatically through the ``pytest11`` entry point).

* ``bus`` - the ``MessageBus`` singleton, reset and started for this test, its
  data directory in the test's ``tmp_path``; reset again afterwards.
* ``fresh_bus`` - the same, reset but not started.
* ``fake_bus`` - a new :class:`~llmgine.testing.FakeMessageBus`.
* ``llmgine_cassette`` - the test's :class:`~llmgine.testing.Cassette`: a run
  log at ``<test dir>/cassettes/<module>/<test>.jsonl`` that answers the
  test's model calls offline; ``LLMGINE_RECORD=1`` records it with real calls.

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
from llmgine.testing.cassette import Cassette, cassette_path, recording_requested
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


@pytest.fixture
def llmgine_cassette(request: pytest.FixtureRequest) -> Iterator[Cassette]:
    """This test's cassette: replayed from its file, or recorded with ``LLMGINE_RECORD=1``.

    Use ``llmgine_cassette.model("openai:gpt-4.1-mini")`` as the test's model.
    Replaying, a model call the cassette does not hold fails the test with a
    diff, and so does a recorded call the test no longer makes.
    """
    cassette = Cassette(
        cassette_path(Path(str(request.node.path)), request.node.name),
        record=recording_requested(),
    )
    try:
        yield cassette
    finally:
        report = request.node.stash.get(_CALL_REPORT, None)
        # A test that failed already says why; unplayed calls would only add noise.
        cassette.finish(check_complete=report is not None and report.passed)


_CALL_REPORT = pytest.StashKey[pytest.TestReport]()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """Keep each test's call report (the cassette checks completeness only after a pass)."""
    report = yield
    if report.when == "call":
        item.stash[_CALL_REPORT] = report
    return report


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
