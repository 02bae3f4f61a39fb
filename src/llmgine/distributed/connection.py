"""The Redis client (imported only here, when a transport attaches) and reconnect helpers.

``redis.asyncio.Redis.from_url`` builds a client *without* a retry policy, so
its first command after a server restart fails: the client gets an explicit
retry with jittered exponential backoff. Every loop of the transport also
catches connection errors itself, waits (:class:`Backoff`) and carries on.

A closed connection (Redis stopped or restarted) fails at once. A dead one
(the server's machine gone, the network cut) is found by the kernel: TCP
keepalive probes after 5 s of silence, 2 s apart, 3 of them, and
``TCP_USER_TIMEOUT`` for data unacknowledged for 15 s, where the platform has
them. There is no per-command socket timeout: on Python 3.11 redis-py's costs
a task per command sent, a tenth of a command round trip, and blocking reads
return by themselves every second.
"""

from __future__ import annotations

import logging
import random
import socket
from typing import Any

from llmgine.errors import ConfigurationError

__all__ = ["Backoff", "connect", "is_connection_error", "is_nogroup"]

logger = logging.getLogger("llmgine.distributed")

INSTALL_HINT = 'install the redis extra: pip install -e ".[redis]" (redis-py)'


def connect(url: str) -> Any:
    """A ``redis.asyncio.Redis`` client for ``url`` that retries connection errors.

    Raises:
        ConfigurationError: redis-py is not installed, or ``url`` is not a Redis URL.
    """
    try:
        from redis.asyncio import Redis
        from redis.asyncio.retry import Retry
        from redis.backoff import ExponentialWithJitterBackoff
        from redis.exceptions import ConnectionError, TimeoutError
    except ImportError as exc:
        raise ConfigurationError(f"the Redis transport needs redis-py: {INSTALL_HINT}") from exc
    try:
        return Redis.from_url(
            url,
            decode_responses=True,
            retry=Retry(ExponentialWithJitterBackoff(base=0.05, cap=2.0), 8),
            retry_on_error=[ConnectionError, TimeoutError],
            health_check_interval=10,
            socket_keepalive=True,
            socket_keepalive_options=_keepalive_options(),
            socket_connect_timeout=5,
            socket_timeout=None,
        )
    except ValueError as exc:
        raise ConfigurationError(f"not a Redis URL: {url!r} ({exc})") from exc


def _keepalive_options() -> dict[int, int]:
    """TCP options that find a dead connection within seconds (those the platform has)."""
    wanted = {
        "TCP_KEEPIDLE": 5,
        "TCP_KEEPALIVE": 5,  # macOS's name for TCP_KEEPIDLE
        "TCP_KEEPINTVL": 2,
        "TCP_KEEPCNT": 3,
        "TCP_USER_TIMEOUT": 15_000,  # ms
    }
    options: dict[int, int] = {}
    for name, value in wanted.items():
        option = getattr(socket, name, None)
        if option is not None:
            options.setdefault(option, value)
    return options


def is_connection_error(exc: BaseException) -> bool:
    """True for errors that a reconnect can cure (server down, restarting, network)."""
    from redis.exceptions import BusyLoadingError, ConnectionError, TimeoutError

    return isinstance(exc, ConnectionError | TimeoutError | BusyLoadingError | OSError)


def is_nogroup(exc: BaseException) -> bool:
    """True for the error of a consumer group (or its stream) that does not exist."""
    from redis.exceptions import ResponseError

    return isinstance(exc, ResponseError) and str(exc).startswith("NOGROUP")


class Backoff:
    """Delays between attempts: doubling from 50 ms up to 2 s, with jitter."""

    def __init__(self, base: float = 0.05, cap: float = 2.0) -> None:
        self.base = base
        self.cap = cap
        self.failures = 0

    def next(self) -> float:
        """The delay before the next attempt."""
        self.failures += 1
        ceiling = min(self.cap, self.base * 2 ** min(self.failures, 16))
        return random.uniform(ceiling / 2, ceiling)  # noqa: S311 - jitter, not security

    def reset(self) -> None:
        """A success: start from the shortest delay again."""
        self.failures = 0
