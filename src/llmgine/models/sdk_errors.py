"""Turning the provider SDKs' exceptions into LLMgine's, at the boundary.

The ``openai`` and ``anthropic`` SDKs share one design (``APIStatusError``
with ``status_code``, ``APITimeoutError`` under ``APIConnectionError``), so
one mapping serves both; each provider passes its SDK's classes.

The SDKs wrap transport failures only while a request is sent. While a
streamed body is read, the HTTP client's own exceptions (``httpx2`` for the
current SDKs, ``httpx`` for older ones: ``RemoteProtocolError`` when the
connection drops, ``ReadTimeout`` when the stream stalls) come through as they
are; :func:`map_transport_error` maps those.
"""

from __future__ import annotations

import email.utils
import importlib
import time
from typing import Any

from llmgine.errors import (
    ProviderAuthError,
    ProviderBadRequestError,
    ProviderConnectionError,
    ProviderError,
    ProviderRateLimitError,
    ProviderResponseError,
    ProviderServerError,
    ProviderTimeoutError,
)

__all__ = [
    "TRANSPORT_ERRORS",
    "map_sdk_error",
    "map_transport_error",
    "read_timeout_seconds",
    "retry_after_seconds",
]


def _http_client_errors() -> tuple[tuple[type[Exception], ...], tuple[type[Exception], ...]]:
    """(transport errors, timeout errors) of the HTTP clients the SDKs may use."""
    transport: list[type[Exception]] = []
    timeouts: list[type[Exception]] = []
    for name in ("httpx2", "httpx"):
        try:
            module = importlib.import_module(name)
        except ImportError:
            continue
        transport.append(module.TransportError)
        timeouts.append(module.TimeoutException)
    return tuple(transport), tuple(timeouts)


#: The HTTP clients' transport errors (``httpx2.TransportError``, ``httpx.TransportError``).
TRANSPORT_ERRORS, _TIMEOUT_ERRORS = _http_client_errors()


def read_timeout_seconds(timeout: Any) -> float | None:
    """Seconds of a read timeout given as a number or an ``httpx``-style ``Timeout``."""
    if timeout is None:
        return None
    if isinstance(timeout, int | float):
        return float(timeout)
    read = getattr(timeout, "read", None)
    return float(read) if isinstance(read, int | float) else None


def map_transport_error(
    exc: Exception, provider: str, model: str, *, wait: float | None, pieces: int
) -> ProviderError:
    """The :class:`ProviderError` for a transport failure while reading a stream.

    Args:
        exc: The HTTP client's exception (one of :data:`TRANSPORT_ERRORS`).
        provider: Provider name, for the message.
        model: Model id, for the message.
        wait: The read timeout in seconds, if known (named in a stall's message).
        pieces: Stream events read before the failure.
    """
    where: dict[str, Any] = {"provider": provider, "model": model}
    after = f"after {pieces} stream event{'s' if pieces != 1 else ''}"
    if isinstance(exc, _TIMEOUT_ERRORS):
        waited = f"{wait:g} s" if wait is not None else "the read timeout"
        return ProviderTimeoutError(
            f"the stream stalled: {provider} sent nothing for {waited} ({after}); "
            "raise the model's timeout if its answers pause longer",
            **where,
        )
    detail = str(exc) or type(exc).__name__
    return ProviderConnectionError(
        f"the connection to {provider} dropped mid-stream ({after}): {detail}", **where
    )


def retry_after_seconds(headers: Any) -> float | None:
    """Seconds from ``retry-after-ms`` / ``retry-after`` (number or HTTP date), if given."""
    if headers is None:
        return None
    value = headers.get("retry-after-ms")
    if value:
        try:
            return max(0.0, float(value) / 1000)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def _provider_message(exc: Any) -> str:
    body = getattr(exc, "body", None)
    if isinstance(body, dict):
        error = body.get("error", body)
        if isinstance(error, dict) and error.get("message"):
            return str(error["message"])
        if isinstance(error, str):
            return error
    return str(getattr(exc, "message", None) or exc)


def map_sdk_error(
    exc: Exception, sdk: Any, provider: str, model: str, *, wait: float | None = None
) -> ProviderError:
    """The :class:`ProviderError` for an SDK exception (``raise ... from exc`` it).

    Args:
        exc: The SDK's exception.
        sdk: The SDK module (``openai`` or ``anthropic``).
        provider: Provider name, for the message.
        model: Model id, for the message.
        wait: The timeout in seconds, if known (named in a timeout's message).
    """
    where: dict[str, Any] = {"provider": provider, "model": model}
    if isinstance(exc, sdk.APITimeoutError):
        within = f"within {wait:g} s" if wait is not None else "before the timeout"
        return ProviderTimeoutError(f"no answer from {provider} {within}", **where)
    if isinstance(exc, TRANSPORT_ERRORS):
        return map_transport_error(exc, provider, model, wait=wait, pieces=0)
    if isinstance(exc, sdk.APIConnectionError):
        request = getattr(exc, "request", None)
        url = getattr(request, "url", None)
        target = f" {url}" if url else ""
        cause = exc.__cause__ or exc
        return ProviderConnectionError(f"could not reach{target} ({cause})", **where)
    if isinstance(exc, sdk.APIStatusError):
        status = exc.status_code
        message = _provider_message(exc)
        response = getattr(exc, "response", None)
        retry_after = retry_after_seconds(getattr(response, "headers", None))
        kind: type[ProviderError]
        if status in (401, 403):
            kind = ProviderAuthError
        elif status == 429:
            kind = ProviderRateLimitError
        elif status == 408:
            kind = ProviderTimeoutError
        elif status >= 500:
            kind = ProviderServerError
        elif 400 <= status < 500:
            kind = ProviderBadRequestError
        else:
            kind = ProviderError
        return kind(message, status=status, retry_after=retry_after, **where)
    if isinstance(exc, sdk.APIResponseValidationError):
        return ProviderResponseError(f"unexpected answer: {exc}", **where)
    return ProviderResponseError(f"{type(exc).__name__}: {exc}", **where)
