"""The switch that blocks real model calls (the test plugin turns it off).

Calls to servers on this machine (127.0.0.0/8, ``localhost``, ``::1``) are
always allowed, so provider code can be tested against a local fake server.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit

from llmgine.errors import ModelRequestsBlockedError

__all__ = [
    "allow_model_requests",
    "blocked_model_requests",
    "check_model_request",
    "is_local_url",
    "model_requests_allowed",
]

_allowed = os.environ.get("LLMGINE_ALLOW_MODEL_REQUESTS", "1").lower() not in {"0", "false", "no"}


def allow_model_requests(allowed: bool) -> None:
    """Allow or block calls to non-local model APIs for this process."""
    global _allowed
    _allowed = allowed


def model_requests_allowed() -> bool:
    """Whether calls to non-local model APIs are allowed."""
    return _allowed


@contextmanager
def blocked_model_requests() -> Iterator[None]:
    """Block non-local model calls inside the ``with`` block."""
    previous = _allowed
    allow_model_requests(False)
    try:
        yield
    finally:
        allow_model_requests(previous)


def _is_local(host: str) -> bool:
    if host in {"localhost", ""}:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def is_local_url(url: str) -> bool:
    """Whether ``url`` points at this machine (``localhost``, 127.0.0.0/8, ``::1``)."""
    return _is_local(urlsplit(url).hostname or "")


def check_model_request(base_url: str, provider: str, model: str) -> None:
    """Raise if calls are blocked and ``base_url`` is not on this machine.

    Raises:
        ModelRequestsBlockedError: the call would reach a real model API.
    """
    if _allowed:
        return
    if is_local_url(base_url):
        return
    raise ModelRequestsBlockedError(
        f"real model calls are blocked here (llmgine's pytest plugin): {provider}:{model} "
        f"would call {base_url}. Use llmgine.testing.TestModel, FunctionModel or "
        "ScriptedModel, or point the provider at a local server."
    )
