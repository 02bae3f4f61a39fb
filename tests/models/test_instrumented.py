"""What the instrumentation adds to a failure it gives up on: attempts, time waited, a hint."""

import pytest

from llmgine.errors import (
    ProviderAuthError,
    ProviderConnectionError,
    ProviderError,
    ProviderRateLimitError,
    ProviderServerError,
    ProviderTimeoutError,
)
from llmgine.models import Model, instrument
from llmgine.models.openai import OpenAIChatModel
from llmgine.models.retry import RetryPolicy
from llmgine.testing import FunctionModel

FAST = RetryPolicy(max_attempts=3, initial_delay=0.001, max_delay=0.001, jitter=0)


def always(error: ProviderError) -> Model:
    def fail(messages: object, info: object) -> str:
        raise error

    return instrument(FunctionModel(fail, retry=FAST, timeout=7))


async def test_a_retryable_failure_says_how_many_attempts_over_how_long() -> None:
    model = always(ProviderConnectionError("could not reach x", provider="p", model="m"))
    with pytest.raises(ProviderConnectionError) as info:
        await model.generate("hi")
    assert str(info.value).startswith("p:m: could not reach x (gave up after 3 attempts in ")
    assert info.value.attempts == 3


async def test_a_timeout_suggests_a_longer_one() -> None:
    model = always(ProviderTimeoutError("no answer", provider="p", model="m"))
    with pytest.raises(ProviderTimeoutError) as info:
        await model.generate("hi")
    assert "gave up after 3 attempts" in str(info.value)
    assert str(info.value).endswith(
        "; each attempt may take 7 s: allow longer with --timeout SECONDS (or timeout= in code)"
    )


async def test_a_streamed_failure_is_annotated_too() -> None:
    model = always(ProviderServerError("down", provider="p", model="m", status=503))
    with pytest.raises(ProviderServerError) as info:
        async for _ in model.stream("hi"):
            pass
    assert "(gave up after 3 attempts in " in str(info.value)


async def test_a_failure_that_cannot_pass_is_left_as_it_is() -> None:
    model = always(ProviderAuthError("bad key", provider="p", model="m", status=401))
    with pytest.raises(ProviderAuthError) as info:
        await model.generate("hi")
    assert str(info.value) == "p:m (HTTP 401): bad key"


def test_provider_models_point_at_the_server_or_the_network() -> None:
    local = OpenAIChatModel("openai-compatible", "m", base_url="http://127.0.0.1:8000/v1")
    down = ProviderConnectionError("x", provider="p", model="m")
    assert local.failure_hint(down) == "is the server at http://127.0.0.1:8000/v1 running?"
    remote = OpenAIChatModel("openrouter", "m")
    hint = remote.failure_hint(down) or ""
    assert "check the network connection" in hint and "OPENROUTER_BASE_URL" in hint
    assert "try again" in (
        remote.failure_hint(ProviderServerError("x", provider="p", model="m")) or ""
    )
    assert "wait" in (
        remote.failure_hint(ProviderRateLimitError("x", provider="p", model="m")) or ""
    )
