"""The OpenAI provider with the real openai SDK talking to a local fake server."""

import asyncio
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
    ProviderResponseError,
    ProviderServerError,
    ProviderTimeoutError,
)
from llmgine.models import Model, get_model, instrument
from llmgine.models.events import LLMCallEvent, LLMResponseEvent
from llmgine.models.openai import OpenAIChatModel
from llmgine.models.response import LLMResponse, TextDelta, ToolCallDelta
from llmgine.models.retry import RetryPolicy

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


def completion(
    content: str | None = "Hello!",
    tool_calls: list[dict[str, Any]] | None = None,
    finish_reason: str = "stop",
    model: str = "gpt-4.1-mini-2025-04-14",
) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": content}
    if tool_calls:
        message["tool_calls"] = tool_calls
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 1,
        "model": model,
        "choices": [{"index": 0, "message": message, "finish_reason": finish_reason}],
        "usage": {
            "prompt_tokens": 100,
            "completion_tokens": 20,
            "total_tokens": 120,
            "prompt_tokens_details": {"cached_tokens": 40},
            "completion_tokens_details": {"reasoning_tokens": 5},
        },
    }


def chunk(delta: dict[str, Any], finish_reason: str | None = None) -> dict[str, Any]:
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion.chunk",
        "created": 1,
        "model": "gpt-4.1-mini",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason}],
    }


USAGE_CHUNK = {
    "id": "chatcmpl-1",
    "object": "chat.completion.chunk",
    "created": 1,
    "model": "gpt-4.1-mini",
    "choices": [],
    "usage": {"prompt_tokens": 12, "completion_tokens": 7, "total_tokens": 19},
}


_open_models: list[Model] = []


@pytest.fixture(autouse=True)
async def close_models() -> AsyncIterator[None]:
    yield
    while _open_models:
        await _open_models.pop().aclose()


def opened(model: Model) -> Any:
    _open_models.append(model)
    return model


def model_for(server: FakeProviderServer, **settings: Any) -> Model:
    """The model as get_model gives it: instrumented, its events on the bus."""
    settings.setdefault("retry", FAST)
    model = OpenAIChatModel(
        "openai", "gpt-4.1-mini", api_key="sk-test-key-123", base_url=f"{server.url}/v1", **settings
    )
    return instrument(opened(model), MessageBus())


async def test_generate_text_fills_every_field(fake_server: FakeProviderServer) -> None:
    fake_server.add(json_reply(completion()))
    response = await model_for(fake_server).generate(
        [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}],
        temperature=0.2,
        max_completion_tokens=50,
    )
    assert response.content == "Hello!"
    assert response.tool_calls == []
    assert response.finish_reason == "stop"
    assert response.usage.prompt_tokens == 100 and response.usage.completion_tokens == 20
    assert response.usage.cached_tokens == 40 and response.usage.reasoning_tokens == 5
    assert response.usage.total_tokens == 120
    assert response.model == "gpt-4.1-mini-2025-04-14" and response.provider == "openai"
    # priced as gpt-4.1-mini: 60 * 0.40 + 40 * 0.10 + 20 * 1.60 per million
    assert response.cost_usd == pytest.approx((60 * 0.40 + 40 * 0.10 + 20 * 1.60) / 1e6)
    assert response.raw is not None

    (request,) = fake_server.received
    assert request.path == "/v1/chat/completions"
    assert request.headers["authorization"] == "Bearer sk-test-key-123"
    body = request.json
    assert body["model"] == "gpt-4.1-mini"
    assert body["messages"][0] == {"role": "system", "content": "Be brief."}
    assert body["temperature"] == 0.2 and body["max_completion_tokens"] == 50
    assert "tools" not in body


async def test_parallel_tool_calls_and_tool_results_round_trip(
    fake_server: FakeProviderServer,
) -> None:
    calls = [
        {
            "id": "call_1",
            "type": "function",
            "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
        },
        {
            "id": "call_2",
            "type": "function",
            "function": {"name": "get_weather", "arguments": '{"city": "Oslo"}'},
        },
    ]
    fake_server.add(
        json_reply(completion(content=None, tool_calls=calls, finish_reason="tool_calls")),
        json_reply(completion(content="Paris 20, Oslo 5")),
    )
    model = model_for(fake_server)
    messages: list[dict[str, Any]] = [{"role": "user", "content": "Weather?"}]
    first = await model.generate(messages, tools=[WEATHER_TOOL], tool_choice="auto")
    assert [(c.id, c.name, c.arguments) for c in first.tool_calls] == [
        ("call_1", "get_weather", '{"city": "Paris"}'),
        ("call_2", "get_weather", '{"city": "Oslo"}'),
    ]
    assert first.finish_reason == "tool_calls" and first.content is None
    messages.append(first.to_message())
    messages += [
        {"role": "tool", "tool_call_id": "call_1", "content": "20 C"},
        {"role": "tool", "tool_call_id": "call_2", "content": "5 C"},
    ]
    second = await model.generate(messages, tools=[WEATHER_TOOL])
    assert second.content == "Paris 20, Oslo 5"

    sent = fake_server.received[0].json
    assert sent["tools"] == [WEATHER_TOOL] and sent["tool_choice"] == "auto"
    followup = fake_server.received[1].json["messages"]
    assert followup[1]["tool_calls"][1]["function"]["arguments"] == '{"city": "Oslo"}'
    assert followup[2] == {"role": "tool", "tool_call_id": "call_1", "content": "20 C"}


async def test_stream_text_yields_deltas_then_the_response(
    fake_server: FakeProviderServer, bus: MessageBus
) -> None:
    fake_server.add(
        sse_reply(
            [
                (None, chunk({"role": "assistant", "content": ""})),
                (None, chunk({"content": "Hel"})),
                (None, chunk({"content": "lo"})),
                (None, chunk({}, finish_reason="stop")),
                (None, USAGE_CHUNK),
            ],
            done=True,
        )
    )
    chunks = [c async for c in model_for(fake_server).stream("Hi")]
    assert [c.text for c in chunks if isinstance(c, TextDelta)] == ["Hel", "lo"]
    final = chunks[-1]
    assert isinstance(final, LLMResponse)
    assert final.content == "Hello" and final.finish_reason == "stop"
    assert final.usage.prompt_tokens == 12 and final.usage.total_tokens == 19
    body = fake_server.received[0].json
    assert body["stream"] is True and body["stream_options"] == {"include_usage": True}


async def test_stream_tool_call_deltas_assemble(fake_server: FakeProviderServer) -> None:
    fake_server.add(
        sse_reply(
            [
                (
                    None,
                    chunk(
                        {
                            "tool_calls": [
                                {
                                    "index": 0,
                                    "id": "call_9",
                                    "type": "function",
                                    "function": {"name": "get_weather", "arguments": ""},
                                }
                            ]
                        }
                    ),
                ),
                (None, chunk({"tool_calls": [{"index": 0, "function": {"arguments": '{"ci'}}]})),
                (
                    None,
                    chunk(
                        {"tool_calls": [{"index": 0, "function": {"arguments": 'ty": "Rome"}'}}]}
                    ),
                ),
                (None, chunk({}, finish_reason="tool_calls")),
                (None, USAGE_CHUNK),
            ],
            done=True,
        )
    )
    chunks = [c async for c in model_for(fake_server).stream("Hi", tools=[WEATHER_TOOL])]
    deltas = [c for c in chunks if isinstance(c, ToolCallDelta)]
    assert deltas[0].id == "call_9" and deltas[0].name == "get_weather"
    assert "".join(d.arguments for d in deltas) == '{"city": "Rome"}'
    final = chunks[-1]
    assert isinstance(final, LLMResponse)
    assert [(c.id, c.name, c.arguments) for c in final.tool_calls] == [
        ("call_9", "get_weather", '{"city": "Rome"}')
    ]
    assert final.finish_reason == "tool_calls"


async def test_429_with_retry_after_then_success(
    fake_server: FakeProviderServer, bus: MessageBus
) -> None:
    fake_server.add(
        json_reply(
            {"error": {"message": "Rate limit reached", "type": "rate_limit"}},
            status=429,
            headers={"retry-after": "0.05"},
        ),
        json_reply(completion()),
    )
    events: list[LLMResponseEvent] = []
    bus.register_event_handler(LLMResponseEvent, events.append)
    loop = asyncio.get_running_loop()
    start = loop.time()
    response = await model_for(fake_server).generate("Hi")
    assert response.content == "Hello!"
    assert loop.time() - start >= 0.04  # Retry-After was honoured
    assert len(fake_server.received) == 2
    assert [e.will_retry for e in events] == [True, False]
    assert events[0].status == 429 and "Rate limit reached" in (events[0].error or "")


async def test_500_then_success(fake_server: FakeProviderServer, bus: MessageBus) -> None:
    fake_server.add(
        json_reply({"error": {"message": "boom"}}, status=500), json_reply(completion())
    )
    calls: list[LLMCallEvent] = []
    bus.register_event_handler(LLMCallEvent, calls.append)
    assert (await model_for(fake_server).generate("Hi")).content == "Hello!"
    assert [c.attempt for c in calls] == [1, 2]
    assert len({c.call_id for c in calls}) == 1


async def test_retries_are_bounded(fake_server: FakeProviderServer) -> None:
    fake_server.add(*[json_reply({"error": {"message": "down"}}, status=503)] * 3)
    with pytest.raises(ProviderServerError) as info:
        await model_for(fake_server).generate("Hi")
    assert len(fake_server.received) == 3  # FAST allows 3 attempts
    assert info.value.status == 503


async def test_401_fails_at_once_with_a_clear_error(fake_server: FakeProviderServer) -> None:
    fake_server.add(
        json_reply({"error": {"message": "Incorrect API key provided"}}, status=401),
        json_reply(completion()),
    )
    with pytest.raises(ProviderAuthError) as info:
        await model_for(fake_server).generate("Hi")
    error = info.value
    assert isinstance(error, LLMgineError)
    assert error.provider == "openai" and error.model == "gpt-4.1-mini" and error.status == 401
    assert "Incorrect API key provided" in str(error) and "openai:gpt-4.1-mini" in str(error)
    assert error.__cause__ is not None  # raised from the SDK error
    assert len(fake_server.received) == 1
    assert "sk-test-key-123" not in str(error)


async def test_404_is_a_bad_request_and_not_retried(fake_server: FakeProviderServer) -> None:
    fake_server.add(json_reply({"error": {"message": "The model does not exist"}}, status=404))
    with pytest.raises(ProviderBadRequestError, match="does not exist"):
        await model_for(fake_server).generate("Hi")
    assert len(fake_server.received) == 1


async def test_malformed_body_is_a_response_error(fake_server: FakeProviderServer) -> None:
    fake_server.add(
        Reply(status=200, body=b"{not json", headers={"content-type": "application/json"})
    )
    with pytest.raises(ProviderResponseError):
        await model_for(fake_server).generate("Hi")


async def test_body_without_choices_is_a_response_error(fake_server: FakeProviderServer) -> None:
    fake_server.add(json_reply({"id": "x", "object": "chat.completion", "choices": []}))
    with pytest.raises(ProviderResponseError, match="no choices"):
        await model_for(fake_server).generate("Hi")


async def test_slow_response_times_out(fake_server: FakeProviderServer) -> None:
    fake_server.add(Reply(delay=3, body=b"{}"), Reply(delay=3, body=b"{}"))
    model = model_for(fake_server, timeout=0.2, retry=RetryPolicy(max_attempts=2, initial_delay=0))
    with pytest.raises(ProviderTimeoutError):
        await asyncio.wait_for(model.generate("Hi"), timeout=30)
    assert len(fake_server.received) == 2  # a timeout is retried


async def test_openai_base_url_environment_variable_is_honoured(
    fake_server: FakeProviderServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", f"{fake_server.url}/v1")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-from-env-000")
    fake_server.add(json_reply(completion()))
    response = await opened(get_model("openai:gpt-4.1-mini")).generate("Hi")
    assert response.content == "Hello!"
    assert fake_server.received[0].headers["authorization"] == "Bearer sk-from-env-000"


async def test_compatible_providers_use_their_base_url_and_key(
    fake_server: FakeProviderServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENROUTER_BASE_URL", f"{fake_server.url}/api/v1")
    monkeypatch.setenv("OPENROUTER_API_KEY", "sk-or-v1-test")
    fake_server.add(json_reply(completion()), json_reply(completion()))
    routed = opened(get_model("openrouter:google/gemini-2.5-flash", routing=["google-vertex"]))
    await routed.generate("Hi", reasoning={"effort": "low"})
    sent = fake_server.received[0]
    assert sent.path == "/api/v1/chat/completions"
    assert sent.headers["authorization"] == "Bearer sk-or-v1-test"
    assert sent.json["model"] == "google/gemini-2.5-flash"
    assert sent.json["provider"] == {
        "order": ["google-vertex"],
        "allow_fallbacks": False,
        "data_collection": "deny",
    }
    assert sent.json["reasoning"] == {"effort": "low"}  # unknown parameters pass through

    local = opened(get_model(f"openai-compatible:llama3.2:3b@{fake_server.url}/v1"))
    await local.generate("Hi")
    assert fake_server.received[1].json["model"] == "llama3.2:3b"


async def test_reasoning_models_do_not_get_a_temperature(fake_server: FakeProviderServer) -> None:
    fake_server.add(json_reply(completion()))
    model = opened(
        OpenAIChatModel("openai", "o3-mini", api_key="k", base_url=f"{fake_server.url}/v1")
    )
    await model.generate("Hi", temperature=0.5)
    assert "temperature" not in fake_server.received[0].json


class City(BaseModel):
    name: str
    population: int


async def test_structured_output_through_instructor(
    fake_server: FakeProviderServer, bus: MessageBus
) -> None:
    def tool_reply(arguments: str) -> Reply:
        return json_reply(
            completion(
                content=None,
                finish_reason="tool_calls",
                tool_calls=[
                    {
                        "id": "call_s",
                        "type": "function",
                        "function": {"name": "City", "arguments": arguments},
                    }
                ],
            )
        )

    # The first answer does not validate: instructor asks again.
    fake_server.add(
        tool_reply('{"name": "Paris", "population": "many"}'),
        tool_reply('{"name": "Paris", "population": 2100000}'),
    )
    responses: list[LLMResponseEvent] = []
    bus.register_event_handler(LLMResponseEvent, responses.append)
    city = await model_for(fake_server).generate("Largest French city?", response_model=City)
    assert isinstance(city, City)
    assert city.model_dump() == {"name": "Paris", "population": 2100000}
    assert len(fake_server.received) == 2
    sent = fake_server.received[0].json
    assert sent["tools"][0]["function"]["name"] == "City"
    assert responses[-1].usage is not None and responses[-1].usage.total_tokens > 0


def test_one_model_across_several_asyncio_runs(fake_server: FakeProviderServer) -> None:
    fake_server.add(json_reply(completion()), json_reply(completion(content="again")))
    model = OpenAIChatModel("openai", "gpt-4.1-mini", api_key="k", base_url=f"{fake_server.url}/v1")

    async def ask() -> str | None:
        try:
            return (await asyncio.wait_for(model.generate("Hi"), timeout=30)).content
        finally:
            await model.aclose()

    assert asyncio.run(ask()) == "Hello!"
    assert asyncio.run(ask()) == "again"
