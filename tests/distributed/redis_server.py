"""A real redis-server (the Debian package) on a free port with a temporary directory.

Locally without the binary the Redis tests skip with one line saying how to
install it; under ``CI=true`` they fail instead (CI must not silently skip them).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest

INSTALL = "redis-server is not installed: apt-get install -y redis-server"


def require_redis_server() -> str:
    """The redis-server binary, or skip (fail under CI) with how to install it."""
    binary = shutil.which("redis-server")
    if binary is None:
        if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
            pytest.fail(INSTALL + " (CI is set: the Redis tests must run)")
        pytest.skip(INSTALL)
    return binary


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class RedisServer:
    """One redis-server process; ``kill()`` then ``start()`` restarts it on the same port."""

    def __init__(self, data_dir: Path, *, aof: bool = True, password: str | None = None) -> None:
        self.binary = require_redis_server()
        self.password = password  # requirepass (``url`` carries none)
        self.data_dir = data_dir
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.aof = aof
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        args = [self.binary, "--port", str(self.port), "--bind", "127.0.0.1"]
        args += ["--dir", str(self.data_dir), "--save", "", "--daemonize", "no"]
        args += ["--appendonly", "yes" if self.aof else "no", "--appendfsync", "always"]
        args += ["--logfile", str(self.data_dir / "redis.log")]
        if self.password is not None:
            args += ["--requirepass", self.password]
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 20
        while True:  # accepting connections within ~0.1 s here
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1) as sock:
                    sock.sendall(b"PING\r\n")
                    if sock.recv(64).startswith((b"+PONG", b"-NOAUTH")):
                        return
            except OSError:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                log = (self.data_dir / "redis.log").read_text(errors="replace")[-2000:]
                raise RuntimeError(f"redis-server did not start on {self.port}:\n{log}")
            time.sleep(0.02)  # waiting for an external process to listen, not synchronising tests

    def kill(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait(10)
            self.proc = None

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
            self.proc = None
