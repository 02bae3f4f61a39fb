"""The Anthropic provider with the real anthropic SDK talking to a local fake server."""

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from pydantic import BaseModel

from fake_server import FakeProviderServer, Reply, json_reply, sse_reply
from llmgine.bus.bus import MessageBus
from llmgine.errors import (
    LLMgineError,
    ProviderAuthError,
    ProviderBadRequestError,
    ProviderRateLimitError,
    ProviderResponseError,
    ProviderServerError,
    ProviderTimeoutError,
    StructuredOutputError,
)
from llmgine.models import Model, instrument
from llmgine.models.anthropic import DEFAULT_MAX_TOKENS, AnthropicModel
from llmgine.models.events import LLMResponseEvent
from llmgine.models.request import LLMRequest
from llmgine.models.response import LLMResponse, TextDelta, ToolCallDelta
from llmgine.models.retry import RetryPolicy
from llmgine.tools.tool_call import ToolCall

MODEL = "claude-haiku-4-5"
FAST = RetryPolicy(initial_delay=0.001, jitter=0, max_attempts=3)
WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather for a city.",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
        },
    },
}


def message(
    content: list[dict[str, Any]] | None = None,
    stop_reason: str = "end_turn",
    usage: dict[str, Any] | None = None,
    model: str = "claude-haiku-4-5-20251001",
) -> dict[str, Any]:
    return {
        "id": "msg_01",
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content if content is not None else [{"type": "text", "text": "Hello!"}],
        "stop_reason": stop_reason,
        "stop_sequence": None,
        "usage": usage or {"input_tokens": 100, "output_tokens": 20},
    }


def tool_use(call_id: str, name: str, arguments: dict[str, Any]) -> dict[str, Any]:
    return {"type": "tool_use", "id": call_id, "name": name, "input": arguments}


def error_reply(status: int, kind: str, text: str, **headers: str) -> Reply:
    return json_reply(
        {"type": "error", "error": {"type": kind, "message": text}},
        status=status,
        headers=headers,
    )


def event(kind: str, **data: Any) -> tuple[str, dict[str, Any]]:
    return kind, {"type": kind, **data}


def message_start(input_tokens: int = 25, **usage: int) -> tuple[str, dict[str, Any]]:
    start = message(content=[], usage={"input_tokens": input_tokens, "output_tokens": 1, **usage})
    start["stop_reason"] = None
    return event("message_start", message=start)


def text_block(index: int, *pieces: str) -> list[tuple[str, dict[str, Any]]]:
    return [
        event("content_block_start", index=index, content_block={"type": "text", "text": ""}),
        *(
            event("content_block_delta", index=index, delta={"type": "text_delta", "text": piece})
            for piece in pieces
        ),
        event("content_block_stop", index=index),
    ]


def tool_block(
    index: int, call_id: str, name: str, *pieces: str
) -> list[tuple[str, dict[str, Any]]]:
    return [
        event(
            "content_block_start",
            index=index,
            content_block={"type": "tool_use", "id": call_id, "name": name, "input": {}},
        ),
        *(
            event(
                "content_block_delta",
                index=index,
                delta={"type": "input_json_delta", "partial_json": piece},
            )
            for piece in pieces
        ),
        event("content_block_stop", index=index),
    ]


def message_end(stop_reason: str, output_tokens: int) -> list[tuple[str, dict[str, Any]]]:
    return [
        event(
            "message_delta",
            delta={"stop_reason": stop_reason, "stop_sequence": None},
            usage={"output_tokens": output_tokens},
        ),
        event("message_stop"),
    ]


_open: list[Any] = []


@pytest.fixture(autouse=True)
async def close_clients() -> AsyncIterator[None]:
    yield
    while _open:
        await _open.pop().aclose()


def provider_for(server: FakeProviderServer, **settings: Any) -> AnthropicModel:
    """The bare wire model: one attempt per call, no instrumentation."""
    model = AnthropicModel("anthropic", MODEL, api_key="test-key", base_url=server.url, **settings)
    _open.append(model)
    return model


def model_for(server: FakeProviderServer, name: str = MODEL, **settings: Any) -> Model:
    """The model as get_model gives it: instrumented, its events on the bus."""
    settings.setdefault("retry", FAST)
    settings.setdefault("base_url", server.url)
    model = AnthropicModel("anthropic", name, api_key="test-key", **settings)
    _open.append(model)
    return instrument(model, MessageBus())


def request(messages: list[dict[str, Any]] | str = "Hi", **fields: Any) -> LLMRequest:
    if isinstance(messages, str):
        messages = [{"role": "user", "content": messages}]
    return LLMRequest(model=MODEL, messages=messages, timeout=30, **fields)


async def collect(chunks: AsyncIterator[Any]) -> list[Any]:
    return [chunk async for chunk in chunks]


# -- complete -------------------------------------------------------------------


async def test_complete_text_fills_every_field(fake_server: FakeProviderServer) -> None:
    usage = {
        "input_tokens": 10,
        "cache_read_input_tokens": 80,
        "cache_creation_input_tokens": 10,
        "output_tokens": 20,
    }
    fake_server.add(json_reply(message(usage=usage)))
    provider = provider_for(fake_server)
    response = await provider.request(
        request(
            [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}],
            temperature=0.2,
        )
    )
    assert response.content == "Hello!"
    assert response.tool_calls == []
    assert response.finish_reason == "stop"
    assert response.usage.prompt_tokens == 100 and response.usage.cached_tokens == 80
    assert response.usage.completion_tokens == 20 and response.usage.total_tokens == 120
    assert response.model == "claude-haiku-4-5-20251001" and response.provider == "anthropic"
    assert response.raw is not None

    (sent,) = fake_server.received
    assert sent.path == "/v1/messages"
    # anthropic 2.x sends the key as a bearer token (1.x sent x-api-key).
    assert sent.headers["authorization"] == "Bearer test-key"
    assert sent.headers["anthropic-version"]
    body = sent.json
    assert body["model"] == MODEL
    assert body["system"] == "Be brief."
    assert body["messages"] == [{"role": "user", "content": "Hi"}]
    assert body["max_tokens"] == DEFAULT_MAX_TOKENS
    # anthropic 2.x's messages.create has no temperature parameter: it goes in the body.
    assert body["temperature"] == 0.2
    assert "tools" not in body and "tool_choice" not in body


async def test_parallel_tool_use_and_tool_results_round_trip(
    fake_server: FakeProviderServer,
) -> None:
    fake_server.add(
        json_reply(
            message(
                content=[
                    {"type": "text", "text": "Checking both."},
                    tool_use("toolu_3", "get_weather", {"city": "Oslo"}),
                    tool_use("toolu_4", "get_weather", {"city": "Lima"}),
                ],
                stop_reason="tool_use",
            )
        )
    )
    conversation = [
        {"role": "system", "content": "You check the weather."},
        {"role": "user", "content": "Paris and Rome?"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "toolu_1",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
                },
                {
                    "id": "toolu_2",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city": "Rome"}'},
                },
            ],
        },
        {"role": "tool", "tool_call_id": "toolu_1", "content": "18C"},
        {"role": "tool", "tool_call_id": "toolu_2", "content": "24C"},
        {"role": "user", "content": "Now Oslo and Lima."},
    ]
    response = await provider_for(fake_server).request(
        request(
            conversation, tools=[WEATHER_TOOL], tool_choice="required", max_completion_tokens=300
        )
    )
    assert response.content == "Checking both."
    assert response.tool_calls == [
        ToolCall(id="toolu_3", name="get_weather", arguments='{"city": "Oslo"}'),
        ToolCall(id="toolu_4", name="get_weather", arguments='{"city": "Lima"}'),
    ]
    assert all(json.loads(call.arguments) for call in response.tool_calls)
    assert response.finish_reason == "tool_calls"

    body = fake_server.received[0].json
    assert body["system"] == "You check the weather."
    assert body["max_tokens"] == 300
    assert body["messages"] == [
        {"role": "user", "content": "Paris and Rome?"},
        {
            "role": "assistant",
            "content": [
                {
                    "type": "tool_use",
                    "id": "toolu_1",
                    "name": "get_weather",
                    "input": {"city": "Paris"},
                },
                {
                    "type": "tool_use",
                    "id": "toolu_2",
                    "name": "get_weather",
                    "input": {"city": "Rome"},
                },
            ],
        },
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": "toolu_1", "content": "18C"},
                {"type": "tool_result", "tool_use_id": "toolu_2", "content": "24C"},
                {"type": "text", "text": "Now Oslo and Lima."},
            ],
        },
    ]
    assert body["tools"] == [
        {
            "name": "get_weather",
            "description": "Weather for a city.",
            "input_schema": WEATHER_TOOL["function"]["parameters"],
        }
    ]
    assert body["tool_choice"] == {"type": "any"}


async def test_generate_end_to_end_through_provider_model(
    fake_server: FakeProviderServer, bus: MessageBus
) -> None:
    fake_server.add(json_reply(message()))
    events: list[LLMResponseEvent] = []
    bus.register_event_handler(LLMResponseEvent, events.append)
    model = model_for(fake_server, default_headers={"anthropic-beta": "test-beta"})
    response = await model.generate(
        "Hi",
        tools=[WEATHER_TOOL],
        tool_choice={"type": "function", "function": {"name": "get_weather"}},
        parallel_tool_calls=False,
        stop=["END"],
        top_k=5,
        response_format={"type": "json_schema", "json_schema": {"name": "A", "schema": {}}},
    )
    assert isinstance(response, LLMResponse)
    assert response.content == "Hello!" and response.provider == "anthropic"
    assert events[-1].usage is not None and events[-1].usage.total_tokens == 120
    sent = fake_server.received[0]
    assert sent.headers["anthropic-beta"] == "test-beta"
    body = sent.json
    assert body["tool_choice"] == {
        "type": "tool",
        "name": "get_weather",
        "disable_parallel_tool_use": True,
    }
    assert body["stop_sequences"] == ["END"]
    assert body["top_k"] == 5  # unknown to the SDK: passed in the body as it is
    assert body["output_config"] == {"format": {"type": "json_schema", "schema": {}}}
    assert "parallel_tool_calls" not in body and "stop" not in body


async def test_unsendable_messages_are_a_bad_request(fake_server: FakeProviderServer) -> None:
    with pytest.raises(ProviderBadRequestError, match="no Anthropic equivalent"):
        await provider_for(fake_server).request(
            request([{"role": "function", "name": "f", "content": "x"}])
        )
    assert fake_server.received == []


# -- stream ---------------------------------------------------------------------


async def test_stream_text_yields_deltas_then_the_response(
    fake_server: FakeProviderServer,
) -> None:
    fake_server.add(
        sse_reply(
            [
                message_start(input_tokens=25, cache_read_input_tokens=5),
                *text_block(0, "Hel", "lo!"),
                event("ping"),
                *message_end("end_turn", 15),
            ]
        )
    )
    chunks = await collect(provider_for(fake_server).request_stream(request()))
    assert chunks[:2] == [TextDelta("Hel"), TextDelta("lo!")]
    (response,) = chunks[2:]
    assert isinstance(response, LLMResponse)
    assert response.content == "Hello!"
    assert response.finish_reason == "stop"
    assert response.usage.prompt_tokens == 30 and response.usage.cached_tokens == 5
    assert response.usage.completion_tokens == 15 and response.usage.total_tokens == 45
    assert response.model == "claude-haiku-4-5-20251001"
    body = fake_server.received[0].json
    assert body["stream"] is True and body["max_tokens"] == DEFAULT_MAX_TOKENS


async def test_stream_tool_calls_through_provider_model(fake_server: FakeProviderServer) -> None:
    fake_server.add(
        sse_reply(
            [
                message_start(),
                *text_block(0, "Checking."),
                *tool_block(1, "toolu_1", "get_weather", "", '{"city"', ': "Paris"}'),
                *tool_block(2, "toolu_2", "get_weather", '{"city": "Rome"}'),
                *message_end("tool_use", 40),
            ]
        )
    )
    model = model_for(fake_server)
    chunks = [chunk async for chunk in model.stream("Paris and Rome?", tools=[WEATHER_TOOL])]
    assert chunks[:-1] == [
        TextDelta("Checking."),
        ToolCallDelta(0, id="toolu_1", name="get_weather", arguments=""),
        ToolCallDelta(0, arguments='{"city"'),
        ToolCallDelta(0, arguments=': "Paris"}'),
        ToolCallDelta(1, id="toolu_2", name="get_weather", arguments=""),
        ToolCallDelta(1, arguments='{"city": "Rome"}'),
    ]
    response = chunks[-1]
    assert isinstance(response, LLMResponse)
    assert response.content == "Checking."
    assert response.tool_calls == [
        ToolCall(id="toolu_1", name="get_weather", arguments='{"city": "Paris"}'),
        ToolCall(id="toolu_2", name="get_weather", arguments='{"city": "Rome"}'),
    ]
    assert response.finish_reason == "tool_calls"
    assert response.usage.prompt_tokens == 25 and response.usage.completion_tokens == 40
    assert fake_server.received[0].json["tools"][0]["name"] == "get_weather"


async def test_stream_tool_call_without_input_has_empty_object_arguments(
    fake_server: FakeProviderServer,
) -> None:
    fake_server.add(
        sse_reply([message_start(), *tool_block(0, "toolu_1", "now"), *message_end("tool_use", 3)])
    )
    chunks = await collect(provider_for(fake_server).request_stream(request()))
    assert chunks[-1].tool_calls == [ToolCall(id="toolu_1", name="now", arguments="{}")]


async def test_overloaded_error_event_before_any_delta_is_retried(
    fake_server: FakeProviderServer,
) -> None:
    overloaded = event("error", error={"type": "overloaded_error", "message": "Overloaded"})
    fake_server.add(
        sse_reply([message_start(), overloaded]),
        sse_reply([message_start(), *text_block(0, "ok"), *message_end("end_turn", 2)]),
    )
    chunks = [chunk async for chunk in model_for(fake_server).stream("Hi")]
    assert chunks[-1].content == "ok"
    assert len(fake_server.received) == 2


async def test_error_event_maps_to_its_kind(fake_server: FakeProviderServer) -> None:
    overloaded = event("error", error={"type": "overloaded_error", "message": "Overloaded"})
    fake_server.add(sse_reply([message_start(), *text_block(0, "par"), overloaded]))
    with pytest.raises(ProviderServerError, match="Overloaded") as caught:
        await collect(provider_for(fake_server).request_stream(request()))
    assert caught.value.retryable


async def test_truncated_stream_is_a_response_error(fake_server: FakeProviderServer) -> None:
    fake_server.add(sse_reply([message_start(), *text_block(0, "half an ans")]))
    with pytest.raises(ProviderResponseError, match="message_stop"):
        await collect(provider_for(fake_server).request_stream(request()))


async def test_stream_http_errors_are_mapped(fake_server: FakeProviderServer) -> None:
    fake_server.add(error_reply(401, "authentication_error", "invalid x-api-key"))
    with pytest.raises(ProviderAuthError, match="invalid x-api-key"):
        await collect(provider_for(fake_server).request_stream(request()))


# -- errors and retries -----------------------------------------------------------


async def test_429_with_retry_after_is_a_rate_limit_error(fake_server: FakeProviderServer) -> None:
    fake_server.add(
        error_reply(
            429, "rate_limit_error", "Number of request tokens exceeded", **{"retry-after": "7"}
        )
    )
    with pytest.raises(ProviderRateLimitError) as caught:
        await provider_for(fake_server).request(request())
    error = caught.value
    assert error.retry_after == 7 and error.status == 429 and error.retryable
    assert "Number of request tokens exceeded" in str(error)


async def test_429_then_success(fake_server: FakeProviderServer, bus: MessageBus) -> None:
    fake_server.add(
        error_reply(429, "rate_limit_error", "slow down", **{"retry-after": "0"}),
        json_reply(message()),
    )
    events: list[LLMResponseEvent] = []
    bus.register_event_handler(LLMResponseEvent, events.append)
    response = await model_for(fake_server).generate("Hi")
    assert response.content == "Hello!"
    assert len(fake_server.received) == 2
    assert [(e.attempt, e.status, e.will_retry) for e in events] == [
        (1, 429, True),
        (2, None, False),
    ]


@pytest.mark.parametrize(("status", "kind"), [(500, "api_error"), (529, "overloaded_error")])
async def test_server_errors_then_success(
    fake_server: FakeProviderServer, status: int, kind: str
) -> None:
    fake_server.add(error_reply(status, kind, "try later"), json_reply(message()))
    response = await model_for(fake_server).generate("Hi")
    assert response.content == "Hello!"
    assert len(fake_server.received) == 2


async def test_529_overloaded_is_a_retryable_server_error(fake_server: FakeProviderServer) -> None:
    fake_server.add(error_reply(529, "overloaded_error", "Overloaded"))
    with pytest.raises(ProviderServerError) as caught:
        await provider_for(fake_server).request(request())
    assert caught.value.status == 529 and caught.value.retryable


async def test_401_fails_at_once_with_a_clear_error(fake_server: FakeProviderServer) -> None:
    fake_server.add(error_reply(401, "authentication_error", "invalid x-api-key"))
    with pytest.raises(ProviderAuthError) as caught:
        await model_for(fake_server).generate("Hi")
    text = str(caught.value)
    assert "invalid x-api-key" in text
    assert f"anthropic:{MODEL}" in text and "HTTP 401" in text
    assert caught.value.provider == "anthropic" and caught.value.model == MODEL
    assert caught.value.status == 401
    assert len(fake_server.received) == 1


async def test_400_is_a_bad_request_and_not_retried(fake_server: FakeProviderServer) -> None:
    fake_server.add(error_reply(400, "invalid_request_error", "messages: roles must alternate"))
    with pytest.raises(ProviderBadRequestError, match="roles must alternate"):
        await model_for(fake_server).generate("Hi")
    assert len(fake_server.received) == 1


async def test_malformed_body_is_a_response_error(fake_server: FakeProviderServer) -> None:
    fake_server.add(
        Reply(status=200, body=b"{not json", headers={"content-type": "application/json"})
    )
    with pytest.raises(ProviderResponseError) as caught:
        await model_for(fake_server).generate("Hi")
    assert isinstance(caught.value, LLMgineError)
    assert len(fake_server.received) == 1


async def test_slow_response_times_out(fake_server: FakeProviderServer) -> None:
    fake_server.add(Reply(delay=2, body=b"{}"))
    model = model_for(fake_server, timeout=0.2, retry=RetryPolicy(max_attempts=1))
    with pytest.raises(ProviderTimeoutError):
        await asyncio.wait_for(model.generate("Hi"), timeout=30)


async def test_anthropic_base_url_environment_variable_is_honoured(
    fake_server: FakeProviderServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ANTHROPIC_BASE_URL", fake_server.url)
    fake_server.add(json_reply(message()))
    model = AnthropicModel("anthropic", MODEL, api_key="k")
    _open.append(model)
    response = await model.generate("Hi")
    assert response.content == "Hello!"
    assert fake_server.received[0].path == "/v1/messages"
    assert fake_server.received[0].headers["authorization"] == "Bearer k"
    assert model.base_url.rstrip("/") == fake_server.url


# -- structured output --------------------------------------------------------------


class City(BaseModel):
    name: str
    population: int


def city_reply(arguments: dict[str, Any], input_tokens: int = 50) -> Reply:
    return json_reply(
        message(
            content=[tool_use("toolu_s", "City", arguments)],
            stop_reason="tool_use",
            usage={"input_tokens": input_tokens, "output_tokens": 10},
        )
    )


async def test_structured_output_through_instructor(fake_server: FakeProviderServer) -> None:
    # The first answer does not validate: instructor sends the errors back.
    fake_server.add(
        city_reply({"name": "Paris", "population": "many"}, input_tokens=50),
        city_reply({"name": "Paris", "population": 2100000}, input_tokens=80),
    )
    city, response = await model_for(fake_server).generate_structured(
        [
            {"role": "system", "content": "Answer with facts."},
            {"role": "user", "content": "Largest French city?"},
        ],
        City,
    )
    assert isinstance(city, City)
    assert city.model_dump() == {"name": "Paris", "population": 2100000}
    assert response.tool_calls[0].name == "City"
    # The usage of both attempts.
    assert response.usage.prompt_tokens == 130 and response.usage.completion_tokens == 20

    assert len(fake_server.received) == 2
    first, second = (received.json for received in fake_server.received)
    assert first["system"] == "Answer with facts."
    assert first["messages"] == [{"role": "user", "content": "Largest French city?"}]
    assert first["tools"][0]["name"] == "City"
    assert first["tools"][0]["input_schema"]["properties"].keys() == {"name", "population"}
    assert first["tool_choice"]["type"] == "tool" and first["tool_choice"]["name"] == "City"
    assert first["max_tokens"] == DEFAULT_MAX_TOKENS
    # The retry carries the bad answer and the validation errors as a tool result.
    assert second["messages"][1]["role"] == "assistant"
    retry_turn = second["messages"][2]
    assert retry_turn["role"] == "user"
    assert retry_turn["content"][0]["type"] == "tool_result"
    assert retry_turn["content"][0]["tool_use_id"] == "toolu_s"


async def test_structured_output_gives_up_after_the_validation_retries(
    fake_server: FakeProviderServer,
) -> None:
    fake_server.add(*(city_reply({"name": "Paris"}) for _ in range(3)))
    with pytest.raises(StructuredOutputError, match="City"):
        await model_for(fake_server).generate(
            "Largest French city?", response_model=City, max_validation_retries=1
        )
    assert len(fake_server.received) == 2


async def test_structured_output_maps_http_errors(fake_server: FakeProviderServer) -> None:
    fake_server.add(
        error_reply(529, "overloaded_error", "Overloaded"),
        city_reply({"name": "Oslo", "population": 1}),
    )
    city = await model_for(fake_server).generate("Capital of Norway?", response_model=City)
    assert city.model_dump() == {"name": "Oslo", "population": 1}
    assert len(fake_server.received) == 2

    fake_server.add(error_reply(401, "authentication_error", "invalid x-api-key"))
    with pytest.raises(ProviderAuthError, match="invalid x-api-key"):
        await model_for(fake_server).generate("Capital of Norway?", response_model=City)


async def test_structured_output_of_a_plain_type(fake_server: FakeProviderServer) -> None:
    fake_server.add(
        json_reply(
            message(
                content=[tool_use("toolu_n", "Response", {"content": 42})], stop_reason="tool_use"
            )
        )
    )
    value, response = await model_for(fake_server).generate_structured("Six times seven?", int)
    assert value == 42
    assert response.usage.total_tokens == 120


async def test_a_stream_left_early_is_closed(fake_server: FakeProviderServer) -> None:
    fake_server.add(
        sse_reply([message_start(), *text_block(0, "one", "two"), *message_end("end_turn", 2)]),
        json_reply(message()),
    )
    provider = provider_for(fake_server)
    chunks = provider.request_stream(request())
    assert await anext(chunks) == TextDelta("one")
    await chunks.aclose()
    # The connection pool is still usable.
    assert (await provider.request(request())).content == "Hello!"
