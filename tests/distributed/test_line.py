"""Line: a connection of its own, commands in one write, replies in order (a real redis-server)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from redis.exceptions import ConnectionError, NoScriptError, ResponseError
from redis_server import RedisServer, require_redis_server

from conftest import apoll
from llmgine.distributed.connection import connect
from llmgine.distributed.line import Line, entries


@pytest.fixture(params=[2, 3], ids=["resp2", "resp3"])
async def client(request: pytest.FixtureRequest, redis_server: Any) -> AsyncIterator[Any]:
    redis = connect(f"{redis_server.url}?protocol={request.param}")
    yield redis
    await redis.aclose()


@pytest.fixture
async def line(client: Any) -> AsyncIterator[Line]:
    line = Line()
    line.client = client
    yield line
    await line.close()


async def test_commands_sent_together_come_back_in_order(line: Line, ns: str) -> None:
    replies = await line.execute(("SET", f"{ns}:a", "1"), ("INCR", f"{ns}:a"), ("GET", f"{ns}:a"))
    assert replies == ["OK", 2, "2"]  # as Redis sent them (no redis-py reply callbacks)
    assert not line.busy


async def test_a_refused_command_takes_its_place_and_the_line_stays_in_step(
    line: Line, ns: str
) -> None:
    missing = "0" * 40
    replies = await line.execute(("EVALSHA", missing, 0), ("SET", f"{ns}:b", "x"))
    assert isinstance(replies[0], NoScriptError)
    assert replies[1] == "OK"  # the command after it still ran, and its reply was read
    replies = await line.execute(("LPUSH", f"{ns}:b", "y"), ("GET", f"{ns}:b"))
    assert isinstance(replies[0], ResponseError)  # WRONGTYPE
    assert replies[1] == "x"  # not an earlier command's reply


async def test_a_dropped_connection_fails_one_call_then_reconnects(
    line: Line, client: Any, ns: str
) -> None:
    assert await line.execute(("PING",)) == ["PONG"]
    await client.execute_command("CLIENT", "KILL", "TYPE", "normal", "SKIPME", "yes")
    with pytest.raises(ConnectionError):
        await line.execute(("SET", f"{ns}:c", "1"))
    assert not line.busy
    assert await line.execute(("GET", f"{ns}:c"), ("PING",)) == [None, "PONG"]  # SET never ran


async def test_a_blocking_read_cut_by_a_cancel_leaves_no_reply_behind(
    line: Line, client: Any, ns: str
) -> None:
    stream = f"{ns}:s"
    read = asyncio.create_task(line.execute(("XREAD", "BLOCK", 5000, "STREAMS", stream, "$")))

    async def blocked() -> bool:
        return int((await client.info("clients"))["blocked_clients"]) >= 1

    await apoll(blocked, what="the read to block in Redis")
    read.cancel()
    with pytest.raises(asyncio.CancelledError):
        await read
    await client.xadd(stream, {"late": "1"})  # would have been the cut read's reply
    assert await line.execute(("PING",)) == ["PONG"]


async def test_entries_reads_xread_and_xreadgroup_replies(line: Line, client: Any, ns: str) -> None:
    stream = f"{ns}:e"
    first = await client.xadd(stream, {"id": "1", "data": "{}"})
    second = await client.xadd(stream, {"id": "2", "data": "[]"})
    (answer,) = await line.execute(("XREAD", "COUNT", 10, "STREAMS", stream, "0-0"))
    assert entries(answer) == [
        (stream, [(first, {"id": "1", "data": "{}"}), (second, {"id": "2", "data": "[]"})])
    ]
    await client.xgroup_create(stream, "g", id="0")
    await line.execute(("XREADGROUP", "GROUP", "g", "n", "STREAMS", stream, ">"))
    await client.xdel(stream, first)  # deleted while pending: no fields
    (answer,) = await line.execute(("XREADGROUP", "GROUP", "g", "n", "STREAMS", stream, "0"))
    assert entries(answer) == [(stream, [(first, None), (second, {"id": "2", "data": "[]"})])]
    (answer,) = await line.execute(("XREAD", "COUNT", 10, "STREAMS", stream, second))
    assert entries(answer) == []


async def test_a_line_signs_in_and_selects_the_database_as_its_client_does(
    tmp_path: Path,
) -> None:
    require_redis_server()
    server = RedisServer(tmp_path / "locked", aof=False, password="s3cretpw")
    server.start()
    client = connect(f"redis://:s3cretpw@127.0.0.1:{server.port}/3")
    other = connect(f"redis://:s3cretpw@127.0.0.1:{server.port}/0")
    line = Line()
    line.client = client
    try:
        assert await line.execute(("SET", "where", "db 3")) == ["OK"]
        assert await client.get("where") == "db 3"
        assert await other.get("where") is None
    finally:
        await line.close()
        await client.aclose()
        await other.aclose()
        server.stop()
