"""Fixtures of the Redis transport tests: a real redis-server per module, worker processes."""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
from redis_server import RedisServer, require_redis_server

HERE = Path(__file__).resolve().parent
T = TypeVar("T")


@pytest.fixture(scope="module")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    require_redis_server()
    server = RedisServer(tmp_path_factory.mktemp("redis"))
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def ns(request: pytest.FixtureRequest) -> str:
    """A namespace of this test's own (tests of a module share one server)."""
    return f"t{abs(hash(request.node.nodeid)) % 10**8}x{os.getpid()}"


@pytest.fixture
def record(redis_server: RedisServer) -> Iterator[Any]:
    """A plain (synchronous) redis-py client to look at what the nodes did."""
    import redis

    client = redis.Redis.from_url(redis_server.url, decode_responses=True)
    yield client
    client.close()


def poll(check: Callable[[], T], timeout: float = 20.0, what: str = "condition") -> T:
    """Call ``check`` until it returns something truthy; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(0.02)


async def apoll(check: Callable[[], Any], limit: float = 20.0, what: str = "condition") -> Any:
    """``poll`` for async tests (``check`` may be sync or async)."""
    import asyncio
    import inspect

    deadline = time.monotonic() + limit
    while True:
        value = check()
        if inspect.isawaitable(value):
            value = await value
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {limit:g} s waiting for {what}")
        await asyncio.sleep(0.02)


class Workers:
    """Starts worker processes (dist_worker.py) and kills what is left at the end."""

    def __init__(self, url: str, namespace: str) -> None:
        self.url = url
        self.namespace = namespace
        self.procs: dict[str, subprocess.Popen[str]] = {}
        self.stderr: dict[int, str] = {}  # by pid: what a closed worker wrote to stderr

    def start(self, *nodes: str, wait: bool = True, **options: Any) -> None:
        args: list[str] = []
        for key, value in options.items():
            flag = "--" + key.replace("_", "-")
            args += [flag] if value is True else [flag, str(value)]
        for node in nodes:
            if node in self.procs:  # restarted under the same name
                self._close(self.procs.pop(node))
            self.procs[node] = subprocess.Popen(
                [sys.executable, str(HERE / "dist_worker.py"), self.url, node, self.namespace]
                + args,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                cwd=HERE,
            )
        if wait:
            for node in nodes:
                self.wait_ready(node)

    def wait_ready(self, node: str, timeout: float = 60.0) -> None:
        proc = self.procs[node]
        assert proc.stdout is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            ready, _, _ = select.select([proc.stdout], [], [], 0.5)
            if ready:
                line = proc.stdout.readline()
                if line.strip() == "ready":
                    return
                if not line and proc.poll() is not None:
                    break
        proc.kill()
        raise AssertionError(f"worker {node} did not start: {proc.stderr.read()}")  # type: ignore[union-attr]

    def kill(self, node: str) -> None:
        proc = self.procs[node]
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)

    def _close(self, proc: subprocess.Popen[str]) -> None:
        if proc.poll() is None:
            proc.kill()
        proc.wait(10)
        if proc.stderr is not None and not proc.stderr.closed:
            self.stderr[proc.pid] = proc.stderr.read()
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()

    def stderr_of(self, node: str) -> str:
        """What a worker wrote to stderr (its log), once it was closed."""
        return self.stderr.get(self.procs[node].pid, "")

    def close(self) -> None:
        for proc in self.procs.values():
            self._close(proc)


@pytest.fixture
def workers(redis_server: RedisServer, ns: str) -> Iterator[Workers]:
    group = Workers(redis_server.url, ns)
    yield group
    group.close()
