"""Attaching goes right or fails in one line, fast, and never shows the Redis password."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from redis_server import RedisServer, free_port

from llmgine import MessageBus
from llmgine.distributed import RedisTransport, TransportError, masked_url
from llmgine.distributed.connection import connect
from llmgine.errors import ConfigurationError

SECRET = "s3cr@tpw"  # with an '@': masking must not stop at the first one
QUICK = 30.0  # seconds: a generous bound on a failure that used to take 65 s


@pytest.fixture
def locked_server(tmp_path: Path) -> Iterator[RedisServer]:
    """A redis-server of this test's own that wants a password."""
    server = RedisServer(tmp_path / "locked", aof=False, password=SECRET)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def http_port() -> Iterator[int]:
    """A port with an HTTP server on it, not Redis."""

    class Quiet(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("redis://127.0.0.1:6379/0?password=s3cretpw", "redis://127.0.0.1:6379/0?password=***"),
        ("redis://:s3cr@tpw@127.0.0.1:6379/0", "redis://:***@127.0.0.1:6379/0"),
        (
            "redis://me:s3cr@tpw@h:1/2?db=1&password=s3cretpw",
            "redis://me:***@h:1/2?db=1&password=***",
        ),
        ("http://user:s3cretpw@127.0.0.1:16391", "http://user:***@127.0.0.1:16391"),
        ("redis://h:bad/0?Password=s3cretpw", "redis://h:bad/0?Password=***"),
        (
            "unix:///tmp/redis.sock?password=s3cretpw&db=0",
            "unix:///tmp/redis.sock?password=***&db=0",
        ),
        ("redis://127.0.0.1:6379/0", "redis://127.0.0.1:6379/0"),
    ],
)
def test_masked_url_masks_every_password_redis_py_reads(url: str, shown: str) -> None:
    assert masked_url(url) == shown


def test_a_url_that_is_not_redis_is_refused_without_its_password() -> None:
    with pytest.raises(ConfigurationError) as caught:
        connect("http://user:s3cretpw@127.0.0.1:16391")
    assert "not a Redis URL: 'http://user:***@127.0.0.1:16391'" in str(caught.value)
    assert "s3cretpw" not in str(caught.value)


async def test_a_password_protected_redis_without_it_is_one_clear_error_in_seconds(
    bus: MessageBus, locked_server: RedisServer
) -> None:
    port = locked_server.port
    for url in (f"redis://127.0.0.1:{port}/0", f"redis://127.0.0.1:{port}/0?password=wrongpw"):
        started = time.monotonic()
        with pytest.raises(TransportError) as caught:
            await bus.attach(RedisTransport(url))
        assert time.monotonic() - started < QUICK
        assert "needs a password (or the URL's is wrong)" in str(caught.value)
        assert "wrongpw" not in str(caught.value)
        assert bus.transport is None
    # The right one, in the URL's userinfo: attached, and shown nowhere.
    transport = RedisTransport(f"redis://:{SECRET}@127.0.0.1:{port}/0")
    await bus.attach(transport)
    assert SECRET not in repr(transport) and "***" in repr(transport)
    await bus.detach()


async def test_an_unreachable_redis_never_shows_its_password(bus: MessageBus) -> None:
    with pytest.raises(TransportError) as caught:
        await bus.attach(RedisTransport(f"redis://127.0.0.1:{free_port()}/0?password=s3cretpw"))
    assert "cannot reach Redis at redis://127.0.0.1:" in str(caught.value)
    assert "s3cretpw" not in str(caught.value)


async def test_a_port_that_is_not_redis_is_one_clear_error_in_seconds(
    bus: MessageBus, http_port: int
) -> None:
    started = time.monotonic()
    with pytest.raises(TransportError, match=f"127.0.0.1:{http_port}/0"):
        await bus.attach(RedisTransport(f"redis://127.0.0.1:{http_port}/0"))
    assert time.monotonic() - started < QUICK
    assert bus.transport is None


async def test_a_server_that_never_answers_is_one_clear_error_in_seconds(
    bus: MessageBus,
) -> None:
    with socket.socket() as listener:  # accepts connections (the kernel's backlog), silent
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        port = listener.getsockname()[1]
        started = time.monotonic()
        with pytest.raises(TransportError, match="cannot reach Redis at"):
            await bus.attach(RedisTransport(f"redis://127.0.0.1:{port}/0"))
        assert time.monotonic() - started < QUICK


async def test_a_database_past_the_servers_is_one_clear_error(
    bus: MessageBus, redis_server: RedisServer
) -> None:
    with pytest.raises(TransportError, match="has no such database"):
        await bus.attach(RedisTransport(f"redis://127.0.0.1:{redis_server.port}/99"))
    assert bus.transport is None


async def test_an_error_after_connecting_leaves_nothing_attached_and_attach_can_be_retried(
    bus: MessageBus, redis_server: RedisServer, record, ns
) -> None:
    """A user that may not create consumer groups: the attach fails in one line, with
    no loop left running; given the permission, the same transport attaches."""
    user = f"limited{ns}"
    record.acl_setuser(
        user, enabled=True, passwords=["+pw"], keys=["*"], commands=["+@all", "-xgroup"]
    )
    transport = RedisTransport(
        f"redis://{user}:pw@127.0.0.1:{redis_server.port}/0", node="limited", namespace=ns
    )
    try:
        with pytest.raises(TransportError, match="refused"):
            await bus.attach(transport)
        assert bus.transport is None
        left = [
            t.get_name() for t in asyncio.all_tasks() if t.get_name().startswith("llmgine-redis")
        ]
        assert left == []
        record.acl_setuser(user, enabled=True, commands=["+@all"])
        await bus.attach(transport)
        assert bus.transport is transport
        await bus.detach()
    finally:
        record.acl_deluser(user)


@pytest.mark.parametrize("seconds", [float("nan"), float("inf"), 0.0, -1.0])
def test_claim_after_must_be_a_finite_positive_number(seconds: float) -> None:
    with pytest.raises(ConfigurationError, match="claim_after must be a finite number"):
        RedisTransport("redis://127.0.0.1:6379/0", claim_after=seconds)
    with pytest.raises(ConfigurationError, match="command_timeout must be a finite number"):
        RedisTransport("redis://127.0.0.1:6379/0", command_timeout=seconds)
