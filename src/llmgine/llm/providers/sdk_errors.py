"""Turning the provider SDKs' exceptions into LLMgine's, at the boundary.

The ``openai`` and ``anthropic`` SDKs share one design (``APIStatusError``
with ``status_code``, ``APITimeoutError`` under ``APIConnectionError``), so
one mapping serves both; each provider passes its SDK's classes.
"""

from __future__ import annotations

import email.utils
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

__all__ = ["map_sdk_error", "retry_after_seconds"]


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


def map_sdk_error(exc: Exception, sdk: Any, provider: str, model: str) -> ProviderError:
    """The :class:`ProviderError` for an SDK exception (``raise ... from exc`` it).

    Args:
        exc: The SDK's exception.
        sdk: The SDK module (``openai`` or ``anthropic``).
        provider: Provider name, for the message.
        model: Model id, for the message.
    """
    where = {"provider": provider, "model": model}
    if isinstance(exc, sdk.APITimeoutError):
        return ProviderTimeoutError("no answer before the timeout", **where)
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
