"""Retry policy for model calls: exponential backoff with jitter, honouring Retry-After."""

from __future__ import annotations

import random
from dataclasses import dataclass

__all__ = ["NO_RETRY", "RetryPolicy"]


@dataclass(frozen=True)
class RetryPolicy:
    """How a model retries failures that may pass (429, 5xx, timeouts, connection errors).

    Other failures (400, 401, 403, 404, ...) are never retried.

    Attributes:
        max_attempts: Tries in all, the first included.
        initial_delay: Seconds before the first retry.
        multiplier: Growth of the delay per retry.
        max_delay: Longest wait computed from the backoff.
        max_elapsed: No retry starts once the call would exceed this many seconds.
        jitter: Random spread of each delay, as a fraction (0.25 = +/-25%).
    """

    max_attempts: int = 4
    initial_delay: float = 0.5
    multiplier: float = 2.0
    max_delay: float = 20.0
    max_elapsed: float = 120.0
    jitter: float = 0.25

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        """Seconds to wait after failed ``attempt`` (1-based) before the next one.

        A provider's ``Retry-After`` is honoured when it asks for longer.
        """
        backoff = min(self.max_delay, self.initial_delay * self.multiplier ** (attempt - 1))
        backoff *= 1 + random.uniform(-self.jitter, self.jitter)
        if retry_after is not None and retry_after > backoff:
            return retry_after
        return max(0.0, backoff)


#: Try once, never retry.
NO_RETRY = RetryPolicy(max_attempts=1)
