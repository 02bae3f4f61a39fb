"""A connection of its own for a hot path: its commands sent in one write, replies read in order.

Every remote command takes three paths: the caller's submit with its blocking
read of the reply stream, the worker's blocking read of its streams, and the
worker's finish script. redis-py's ``Pipeline`` and its connection pool
(a lock, observability hooks and an event per checkout and per release) cost
more Python per call than a round trip to a local Redis takes, so each of
these paths has a :class:`Line`: one connection of redis-py's own
``Connection`` class, used through its public ``send_packed_command`` and
``read_response``. It connects (with the pool's settings: password, database,
TLS, keepalive) on first use, checks its health after 10 s idle as the pool
does, and after a connection error reconnects on its next use: the loops that
use it back off and retry as they do for any Redis call.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

__all__ = ["Line", "entries"]


class Line:
    """One connection for one path at a time (``busy`` while a call is out)."""

    def __init__(self) -> None:
        self.client: Any = None  # the transport's redis-py client, set when it attaches
        self._conn: Any = None
        self.busy = False

    async def execute(self, *commands: Sequence[Any]) -> list[Any]:
        """Send ``commands`` in one write and read their replies, in order.

        A command Redis refused gives its ``ResponseError`` in its place (the
        replies after it are still read: the connection stays in step).

        Raises:
            redis.exceptions.ConnectionError: Redis could not be reached (the
                connection is dropped; the next call reconnects).
        """
        from redis.exceptions import ResponseError

        if self._conn is None:
            self._conn = self.client.connection_pool.make_connection()
        conn = self._conn
        self.busy = True
        try:
            await conn.send_packed_command(conn.pack_commands(commands))
            replies: list[Any] = []
            for _ in commands:
                try:
                    replies.append(await conn.read_response())
                except ResponseError as exc:
                    replies.append(exc)
            return replies
        finally:
            self.busy = False

    async def close(self) -> None:
        """Close the connection (a later call opens a new one)."""
        conn, self._conn = self._conn, None
        if conn is not None:
            await conn.disconnect()


def entries(answer: Any) -> list[tuple[str, list[tuple[str, dict[str, str] | None]]]]:
    """A raw ``XREAD``/``XREADGROUP`` reply as (stream, [(entry id, fields)]), RESP2 or RESP3.

    ``fields`` is None for an entry deleted while it was pending.
    """
    if not answer:
        return []
    streams = answer.items() if isinstance(answer, dict) else answer
    return [
        (
            stream,
            [
                (entry_id, None if flat is None else dict(zip(flat[::2], flat[1::2], strict=True)))
                for entry_id, flat in items or ()
            ],
        )
        for stream, items in streams
    ]
