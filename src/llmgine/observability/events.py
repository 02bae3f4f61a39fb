"""Log levels shared by bootstrap and observability."""

from __future__ import annotations

import logging
from enum import Enum

__all__ = ["LogLevel"]


class LogLevel(Enum):
    """Standard log levels; ``LogLevel.parse("debug")`` also accepts names and ints."""

    DEBUG = "debug"
    INFO = "info"
    WARNING = "warning"
    ERROR = "error"
    CRITICAL = "critical"

    @property
    def logging_level(self) -> int:
        """The matching :mod:`logging` level number."""
        return int(getattr(logging, self.name))

    @classmethod
    def parse(cls, value: LogLevel | str | int) -> LogLevel:
        """Accept a ``LogLevel``, a name such as ``"debug"``, or a logging number.

        Raises:
            ValueError: the value names no level.
        """
        if isinstance(value, LogLevel):
            return value
        if isinstance(value, int):
            for level in cls:
                if level.logging_level == value:
                    return level
            raise ValueError(f"unknown log level {value!r}")
        try:
            return cls(str(value).strip().lower())
        except ValueError:
            names = ", ".join(level.value for level in cls)
            raise ValueError(f"unknown log level {value!r}; use one of: {names}") from None
