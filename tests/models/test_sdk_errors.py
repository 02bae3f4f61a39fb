import time
from email.utils import formatdate

import httpx2
import openai

from llmgine.errors import ProviderConnectionError, ProviderTimeoutError
from llmgine.models.sdk_errors import (
    TRANSPORT_ERRORS,
    map_sdk_error,
    map_transport_error,
    read_timeout_seconds,
    retry_after_seconds,
)


def test_retry_after_forms() -> None:
    assert retry_after_seconds({"retry-after": "2"}) == 2.0
    assert retry_after_seconds({"retry-after-ms": "1500"}) == 1.5
    assert retry_after_seconds({}) is None
    assert retry_after_seconds(None) is None
    assert retry_after_seconds({"retry-after": "soon"}) is None
    later = formatdate(time.time() + 30, usegmt=True)
    assert 25 <= (retry_after_seconds({"retry-after": later}) or 0) <= 31


def test_the_installed_http_client_errors_are_known() -> None:
    # The SDKs read streams with httpx2 (current) or httpx (older versions).
    assert httpx2.TransportError in TRANSPORT_ERRORS


def test_transport_errors_name_the_provider_and_the_wait() -> None:
    stalled = map_transport_error(
        httpx2.ReadTimeout("timed out"), "anthropic", "claude-x", wait=2.5, pieces=3
    )
    assert isinstance(stalled, ProviderTimeoutError) and stalled.retryable
    assert "anthropic sent nothing for 2.5 s" in str(stalled)
    assert "after 3 stream events" in str(stalled)
    dropped = map_transport_error(
        httpx2.RemoteProtocolError("peer closed connection"), "openai", "gpt-x", wait=None, pieces=1
    )
    assert isinstance(dropped, ProviderConnectionError) and dropped.retryable
    assert "connection to openai dropped mid-stream (after 1 stream event)" in str(dropped)
    assert "peer closed connection" in str(dropped)


def test_an_sdk_timeout_names_the_wait() -> None:
    request = httpx2.Request("POST", "http://127.0.0.1:1/v1/chat/completions")
    error = map_sdk_error(openai.APITimeoutError(request), openai, "openai", "gpt-x", wait=0.2)
    assert isinstance(error, ProviderTimeoutError)
    assert "no answer from openai within 0.2 s" in str(error)


def test_read_timeout_seconds() -> None:
    assert read_timeout_seconds(3) == 3.0
    assert read_timeout_seconds(httpx2.Timeout(600, connect=5)) == 600.0
    assert read_timeout_seconds(None) is None
