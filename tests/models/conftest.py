from collections.abc import Iterator

import pytest

from fake_server import FakeProviderServer


@pytest.fixture
def fake_server() -> Iterator[FakeProviderServer]:
    with FakeProviderServer() as server:
        yield server
