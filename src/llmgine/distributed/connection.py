"""The Redis client (imported only here, when a transport attaches) and reconnect helpers.

``redis.asyncio.Redis.from_url`` builds a client *without* a retry policy, so
its first command after a server restart fails: the client gets one explicit,
quick retry (more would hide an outage for seconds). Every loop of the
transport catches connection errors itself, says so, waits (:class:`Backoff`)
and carries on. :func:`probe` makes the first contact without retries, so a
wrong URL or password is one clear error at once.

A refused connection (Redis stopped or restarting) fails within milliseconds. A dead one
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
import re
import socket
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from llmgine.errors import ConfigurationError, TransportError

__all__ = [
    "Backoff",
    "attach_error",
    "connect",
    "is_connection_error",
    "is_nogroup",
    "masked_url",
    "probe",
]

logger = logging.getLogger("llmgine.distributed")

INSTALL_HINT = 'install the redis extra: pip install -e ".[redis]" (redis-py)'


def masked_url(url: str) -> str:
    """``url`` with its passwords masked (for log lines, errors and pages).

    Both places redis-py reads one from are masked: the userinfo
    (``redis://user:pw@host``, the password may contain ``@``) and the
    ``password`` query parameter. A URL that does not parse is masked as a
    whole between ``//`` and its last ``@``, and in any ``password=``.
    """
    try:
        parts = urlsplit(url)
        netloc = parts.netloc
        if "@" in netloc:
            userinfo, _, hostport = netloc.rpartition("@")
            user, colon, _ = userinfo.partition(":")
            netloc = f"{user}:***@{hostport}" if colon else f"{userinfo}@{hostport}"
        query = parts.query
        if query:
            pairs = parse_qsl(query, keep_blank_values=True)
            if any(key.lower() == "password" for key, _ in pairs):
                query = urlencode(
                    [(k, "***" if k.lower() == "password" else v) for k, v in pairs], safe="*"
                )
        if "://" not in url:
            return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))
        return (
            f"{parts.scheme}://{netloc}{parts.path}"
            + (f"?{query}" if query else "")
            + (f"#{parts.fragment}" if parts.fragment else "")
        )
    except ValueError:
        masked = re.sub(r"//[^/?#]*@", "//***@", url)
        return re.sub(r"(?i)(password=)[^&#]*", r"\1***", masked)


_PROBE_TIMEOUT = 5.0  # seconds the first connection and PING may take
_TRY_AGAIN = "start redis-server or pass the right URL"


async def probe(url: str) -> None:
    """Connect and PING once, without retries: a wrong URL or password fails in seconds.

    The transport's own client retries connection errors, and redis-py counts a
    refused password as one (``AuthenticationError`` is a ``ConnectionError``);
    a first contact made with it would retry a wrong password, or wait on a
    server that is not Redis, for a minute before saying anything.

    Raises:
        TransportError: what is wrong, in one line, the URL's password masked.
        ConfigurationError: redis-py is missing, or ``url`` is not a Redis URL.
    """
    try:
        from redis.asyncio import Redis
        from redis.asyncio.retry import Retry
        from redis.backoff import NoBackoff
    except ImportError as exc:
        raise ConfigurationError(f"the Redis transport needs redis-py: {INSTALL_HINT}") from exc
    try:
        client = Redis.from_url(
            url,
            decode_responses=True,
            retry=Retry(NoBackoff(), 0),
            socket_connect_timeout=_PROBE_TIMEOUT,
            socket_timeout=_PROBE_TIMEOUT,  # a server that accepts and never answers
        )
    except ValueError as exc:
        raise ConfigurationError(f"not a Redis URL: {masked_url(url)!r} ({exc})") from exc
    try:
        await client.ping()
    except Exception as exc:
        raise attach_error(url, exc) from exc
    finally:
        await client.aclose()


def attach_error(url: str, exc: BaseException) -> TransportError:
    """One line for a person about why attaching to Redis at ``url`` failed."""
    from redis.exceptions import (
        AuthenticationError,
        AuthorizationError,
        InvalidResponse,
        ResponseError,
    )

    where = masked_url(url)
    text = str(exc) or type(exc).__name__
    if isinstance(exc, AuthenticationError) or (
        isinstance(exc, ResponseError) and text.startswith(("NOAUTH", "WRONGPASS"))
    ):
        return TransportError(
            f"Redis at {where} needs a password (or the URL's is wrong): {text}; pass it "
            "in the URL (redis://:PASSWORD@host:6379/0 or ?password=...)"
        )
    if isinstance(exc, AuthorizationError) or text.startswith("NOPERM"):
        return TransportError(f"Redis at {where} refused this user: {text}")
    if isinstance(exc, InvalidResponse):
        return TransportError(
            f"the server at {where} does not speak the Redis protocol ({text}); {_TRY_AGAIN}"
        )
    if isinstance(exc, ResponseError) and "DB index" in text:
        return TransportError(
            f"Redis at {where} has no such database ({text}): the number after the URL's "
            "port is past the server's `databases` (16 by default: /0 to /15)"
        )
    if isinstance(exc, ResponseError):
        return TransportError(f"Redis at {where} refused to attach: {text}")
    if is_connection_error(exc):
        return TransportError(f"cannot reach Redis at {where}: {text}; {_TRY_AGAIN}")
    return TransportError(f"cannot attach to Redis at {where}: {type(exc).__name__}: {text}")


def connect(url: str, max_connections: int | None = None) -> Any:
    """A ``redis.asyncio.Redis`` client for ``url`` that retries connection errors.

    ``max_connections``: the size of its pool (redis-py's default: 100).

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
            # One quick retry: the first command after a restart meets a stale pooled
            # connection. The transport's loops back off through longer outages and
            # say so (more retries in here would hide them).
            retry=Retry(ExponentialWithJitterBackoff(base=0.05, cap=2.0), 1),
            retry_on_error=[ConnectionError, TimeoutError],
            health_check_interval=10,
            socket_keepalive=True,
            socket_keepalive_options=_keepalive_options(),
            socket_connect_timeout=5,
            socket_timeout=None,
            max_connections=max_connections,
        )
    except ValueError as exc:
        raise ConfigurationError(f"not a Redis URL: {masked_url(url)!r} ({exc})") from exc


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
    """True for the error of a consumer group (or its stream) that does not exist.

    In a pipeline the error reads ``Command # 1 (XCLAIM ...) of pipeline caused
    error: ("NOGROUP ...")``: the code is looked for anywhere in the text.
    """
    from redis.exceptions import ResponseError

    return isinstance(exc, ResponseError) and "NOGROUP" in str(exc)


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
