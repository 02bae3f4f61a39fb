"""The Anthropic provider on responses recorded from the real Messages API (see tests/llm/wire).

Thinking (signatures, redacted blocks, thinking deltas), tool use, cache usage
and its price, error envelopes in HTTP 200 replies, and streams that stall or
drop, with the real anthropic SDK talking to the local fake server.
"""

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from wire_fixtures import recorded, recorded_reply, recorded_stream

from fake_server import FakeProviderServer, Reply, json_reply
from llmgine.bus.bus import MessageBus
from llmgine.errors import (
    ConfigurationError,
    ProviderConnectionError,
    ProviderResponseError,
    ProviderServerError,
    ProviderTimeoutError,
)
from llmgine.models import Model, get_model, instrument
from llmgine.models.anthropic import DEFAULT_MAX_TOKENS, AnthropicModel
from llmgine.models.events import LLMResponseEvent
from llmgine.models.response import (
    LLMResponse,
    RedactedThinkingPart,
    TextDelta,
    ThinkingDelta,
    ThinkingPart,
    ToolCallDelta,
)
from llmgine.models.retry import RetryPolicy
from llmgine.tools.tool_call import ToolCall

FAST = RetryPolicy(initial_delay=0.001, jitter=0, max_attempts=3)
COUNTRY_TOOL = {
    "type": "function",
    "function": {
        "name": "get_user_country",
        "description": "",
        "parameters": {"additionalProperties": False, "properties": {}, "type": "object"},
    },
}

_open: list[Any] = []


@pytest.fixture(autouse=True)
async def close_models() -> AsyncIterator[None]:
    yield
    while _open:
        await _open.pop().aclose()


def model_for(server: FakeProviderServer, name: str, **settings: Any) -> Model:
    settings.setdefault("retry", FAST)
    settings.setdefault("timeout", 30)
    model = AnthropicModel("anthropic", name, api_key="test-key", base_url=server.url, **settings)
    _open.append(model)
    return instrument(model, MessageBus())


async def collect(model: Model, messages: Any = "Hi", **kwargs: Any) -> list[Any]:
    return [chunk async for chunk in model.stream(messages, **kwargs)]


# -- thinking -------------------------------------------------------------------


async def test_thinking_and_tool_use_round_trip_unchanged(
    fake_server: FakeProviderServer,
) -> None:
    wire = recorded("anthropic_thinking_tool_use")
    fake_server.add(
        recorded_reply("anthropic_thinking_tool_use", "responses", 0),
        recorded_reply("anthropic_thinking_tool_use", "responses", 1),
    )
    model = get_model(
        "anthropic:claude-sonnet-4-0?thinking=3000",
        api_key="test-key",
        base_url=fake_server.url,
        retry=FAST,
    )
    _open.append(model)
    question = [{"role": "user", "content": "What is the largest city in the user country?"}]
    first = await model.generate(question, tools=[COUNTRY_TOOL])

    recorded_first, recorded_second = wire["requests"]
    sent = fake_server.received[0].json
    assert (
        sent["thinking"] == recorded_first["thinking"] == {"type": "enabled", "budget_tokens": 3000}
    )
    # The answer keeps DEFAULT_MAX_TOKENS beside the thinking budget.
    assert sent["max_tokens"] == 3000 + DEFAULT_MAX_TOKENS

    recorded_block = wire["responses"][0]["content"][0]
    assert first.thinking_blocks == [
        ThinkingPart(recorded_block["thinking"], recorded_block["signature"])
    ]
    assert first.thinking == recorded_block["thinking"]
    assert first.content == wire["responses"][0]["content"][1]["text"]
    assert first.tool_calls == [
        ToolCall(id="toolu_01YGzqpRE16Vricda3Aqcejo", name="get_user_country", arguments="{}")
    ]

    history = [
        *question,
        first.to_message(),
        {"role": "tool", "tool_call_id": first.tool_calls[0].id, "content": "Mexico"},
    ]
    second = await model.generate(history, tools=[COUNTRY_TOOL])
    assert second.content is not None and "Mexico City" in second.content

    # The assistant turn goes back exactly as the recorded request the API accepted.
    sent_messages = fake_server.received[1].json["messages"]
    assert sent_messages[1] == recorded_second["messages"][1]
    (result,) = sent_messages[2]["content"]
    assert result["tool_use_id"] == "toolu_01YGzqpRE16Vricda3Aqcejo"
    assert result["content"] == "Mexico"


async def test_thinking_stream_yields_thinking_deltas_and_keeps_the_signature(
    fake_server: FakeProviderServer,
) -> None:
    fake_server.add(recorded_stream("anthropic_thinking_stream"))
    chunks = await collect(model_for(fake_server, "claude-sonnet-4-0"), thinking=1024)
    thinking = [c.text for c in chunks if isinstance(c, ThinkingDelta)]
    text = [c.text for c in chunks if isinstance(c, TextDelta)]
    assert "".join(thinking) == (
        "This is a straightforward question about pedestrian safety. I should provide clear, "
        "practical advice for crossing streets safely. This is basic safety information that "
        "could help prevent accidents."
    )
    assert "".join(text).startswith("Here's how to cross the street safely:")
    # Thinking comes first and never leaks into the answer text.
    assert isinstance(chunks[0], ThinkingDelta)
    response = chunks[-1]
    assert isinstance(response, LLMResponse)
    assert response.content == "".join(text)
    (block,) = response.thinking_blocks
    assert isinstance(block, ThinkingPart) and block.text == "".join(thinking)
    assert block.signature is not None and block.signature.startswith("Eu4CCkYICxgCKkCptg1G")
    assert block.signature.endswith("BpoJQGAE=")
    assert response.usage.prompt_tokens == 43 and response.usage.completion_tokens == 277
    assert fake_server.received[0].json["thinking"] == {"type": "enabled", "budget_tokens": 1024}
    assert response.to_message()["thinking_blocks"] == [
        {"type": "thinking", "thinking": block.text, "signature": block.signature}
    ]


async def test_redacted_thinking_is_kept_in_order_and_sent_back(
    fake_server: FakeProviderServer,
) -> None:
    fake_server.add(
        recorded_stream("anthropic_redacted_thinking_stream"),
        recorded_reply("anthropic_thinking_tokens"),
    )
    model = model_for(fake_server, "claude-sonnet-4-5-20250929", thinking=1024)
    chunks = await collect(model)
    response = chunks[-1]
    assert [type(part) for part in response.thinking_blocks] == [RedactedThinkingPart] * 2
    first, second = response.thinking_blocks
    assert first.data.startswith("EqkECkYIBxgCKkA8AZ4n") and first.data.endswith("ewJ/hgB")
    assert second.data.startswith("EtgBCkYIBxgCKkDQfGkw") and second.data.endswith("Z1J0GAE=")
    assert response.thinking is None  # nothing readable
    assert not any(isinstance(c, ThinkingDelta) for c in chunks)
    assert (
        response.content == "I notice that you've sent what appears to be some kind of test string"
    )

    await model.generate(
        [
            {"role": "user", "content": "Hi"},
            response.to_message(),
            {"role": "user", "content": "Go on"},
        ]
    )
    assistant = fake_server.received[1].json["messages"][1]
    assert assistant == {
        "role": "assistant",
        "content": [
            {"type": "redacted_thinking", "data": first.data},
            {"type": "redacted_thinking", "data": second.data},
            {"type": "text", "text": response.content},
        ],
    }


async def test_empty_signed_thinking_block_and_thinking_tokens(
    fake_server: FakeProviderServer,
) -> None:
    fake_server.add(recorded_reply("anthropic_thinking_tokens"))
    response = await model_for(fake_server, "claude-fable-5-1").generate("17*23?")
    (block,) = response.thinking_blocks
    assert block == ThinkingPart(
        "", recorded("anthropic_thinking_tokens")["response"]["content"][0]["signature"]
    )
    assert response.thinking == ""
    assert response.usage.reasoning_tokens == 30
    assert response.usage.completion_tokens == 67
    # The empty block is still sent back: the API checks the whole sequence.
    assert response.to_message()["thinking_blocks"] == [block.to_dict()]


def test_a_thinking_setting_anthropic_does_not_understand_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match="thinking='lots'"):
        get_model("anthropic:claude-sonnet-4-5", thinking="lots")


async def test_adaptive_thinking_from_the_model_string(fake_server: FakeProviderServer) -> None:
    fake_server.add(recorded_reply("anthropic_thinking_tokens"))
    model = get_model(
        "anthropic:claude-opus-4-6?thinking=adaptive", api_key="k", base_url=fake_server.url
    )
    _open.append(model)
    await model.generate("Hi")
    sent = fake_server.received[0].json
    assert sent["thinking"] == {"type": "adaptive"}
    assert sent["max_tokens"] == DEFAULT_MAX_TOKENS


# -- tool use and text streams ------------------------------------------------------


async def test_recorded_tool_use_stream_assembles_input_json_deltas(
    fake_server: FakeProviderServer,
) -> None:
    fake_server.add(recorded_stream("anthropic_tool_use_stream"))
    chunks = await collect(model_for(fake_server, "claude-sonnet-4-0"))
    deltas = [c for c in chunks if isinstance(c, ToolCallDelta)]
    assert deltas[0] == ToolCallDelta(
        0, id="toolu_01NRLabsLyVHZPKxbKvkfSMn", name="get_weather", arguments=""
    )
    assert [d.arguments for d in deltas[1:]] == ['{"locati', 'on": "P', "ar", 'is"}']
    response = chunks[-1]
    assert response.content == "I'll check the current weather in Paris for you."
    assert response.tool_calls == [
        ToolCall(
            id="toolu_01NRLabsLyVHZPKxbKvkfSMn",
            name="get_weather",
            arguments='{"location": "Paris"}',
        )
    ]
    assert response.finish_reason == "tool_calls"
    assert response.usage.prompt_tokens == 377 and response.usage.completion_tokens == 65


async def test_recorded_text_stream(fake_server: FakeProviderServer) -> None:
    fake_server.add(recorded_stream("anthropic_text_stream"))
    chunks = await collect(model_for(fake_server, "claude-3-opus-latest"))
    assert chunks[:-1] == [TextDelta("Hello"), TextDelta(" there"), TextDelta("!")]
    assert chunks[-1].content == "Hello there!" and chunks[-1].finish_reason == "stop"


# -- cache usage and cost -------------------------------------------------------------


async def test_cache_writes_and_reads_are_kept_and_priced_at_their_rates(
    fake_server: FakeProviderServer,
) -> None:
    fake_server.add(
        recorded_reply("anthropic_cache_5m", "responses", 0),
        recorded_reply("anthropic_cache_5m", "responses", 1),
    )
    model = model_for(fake_server, "claude-sonnet-4-5")
    first = await model.generate("Please explain what Python is.")
    assert first.usage.prompt_tokens == 3 + 1111
    assert first.usage.cache_write_tokens == 1111 and first.usage.cache_write_5m_tokens == 1111
    assert first.usage.cached_tokens == 0 and first.usage.cache_write_1h_tokens == 0
    # claude-sonnet-4*: $3 input, $3.75 (1.25x) five-minute writes, $0.30 reads, $15 output.
    assert first.cost_usd == pytest.approx((3 * 3 + 1111 * 3.75 + 391 * 15) / 1e6)

    second = await model.generate("Can you summarize that in one sentence?")
    usage = second.usage
    assert (usage.prompt_tokens, usage.cached_tokens, usage.cache_write_tokens) == (1517, 1111, 403)
    expected = (3 * 3 + 403 * 3.75 + 1111 * 0.30 + 33 * 15) / 1e6
    assert second.cost_usd == pytest.approx(expected)
    # Billing the writes as plain input was 13% low on this reply.
    plain = (406 * 3 + 1111 * 0.30 + 33 * 15) / 1e6
    assert second.cost_usd / plain > 1.14


async def test_one_hour_cache_writes_in_a_stream_are_priced_at_twice_the_input_rate(
    fake_server: FakeProviderServer,
) -> None:
    fake_server.add(recorded_stream("anthropic_cache_1h_stream"))
    response = (await collect(model_for(fake_server, "claude-sonnet-4-6")))[-1]
    usage = response.usage
    assert usage.prompt_tokens == 13 + 3913
    assert usage.cache_write_tokens == 3913 and usage.cache_write_1h_tokens == 3913
    assert usage.cache_write_5m_tokens == 0
    assert response.cost_usd == pytest.approx((13 * 3 + 3913 * 6 + 4 * 15) / 1e6)


# -- bodies that are not messages -----------------------------------------------------------


async def test_error_envelope_in_a_200_reply_is_a_retryable_server_error(
    fake_server: FakeProviderServer,
) -> None:
    fake_server.add(recorded_reply("anthropic_overloaded_error"))
    model = model_for(fake_server, "claude-sonnet-4-5", retry=RetryPolicy(max_attempts=1))
    with pytest.raises(ProviderServerError, match="Overloaded") as caught:
        await model.generate("Hi")
    assert caught.value.retryable
    assert "error envelope" in str(caught.value)

    fake_server.add(
        recorded_reply("anthropic_overloaded_error"), recorded_reply("anthropic_thinking_tokens")
    )
    response = await model_for(fake_server, "claude-sonnet-4-5").generate("Hi")
    assert response.usage.reasoning_tokens == 30
    assert len(fake_server.received) == 3  # one failed, then one retried


@pytest.mark.parametrize(
    "body",
    [
        {"object": "list", "data": []},
        {"type": "completion", "completion": "Hello"},
        [],
        "Service temporarily unavailable",
    ],
)
async def test_a_200_body_that_is_not_a_message_is_a_response_error(
    fake_server: FakeProviderServer, body: Any
) -> None:
    fake_server.add(json_reply(body))
    with pytest.raises(ProviderResponseError):
        await model_for(fake_server, "claude-sonnet-4-5").generate("Hi")
    assert len(fake_server.received) == 1


# -- streams that stall or drop -------------------------------------------------------------


async def test_a_stalled_stream_is_a_timeout_naming_the_provider_and_the_wait(
    fake_server: FakeProviderServer,
) -> None:
    # message_start, content_block_start, ping, then a text delta: then nothing.
    fake_server.add(recorded_stream("anthropic_text_stream", stall_after=4))
    model = model_for(fake_server, "claude-3-opus-latest", timeout=0.5)
    seen: list[Any] = []
    with pytest.raises(ProviderTimeoutError) as caught:
        async with asyncio.timeout(60):
            async for chunk in model.stream("Hi"):
                seen.append(chunk)
    assert seen == [TextDelta("Hello")]
    message = str(caught.value)
    assert "anthropic" in message and "0.5 s" in message and "stalled" in message
    assert len(fake_server.received) == 1  # text was already shown: not retried


async def test_a_dropped_stream_is_a_connection_error_and_not_retried_after_output(
    fake_server: FakeProviderServer,
) -> None:
    fake_server.add(recorded_stream("anthropic_thinking_stream", drop_after=6))
    model = model_for(fake_server, "claude-sonnet-4-0")
    seen: list[Any] = []
    with pytest.raises(ProviderConnectionError, match="anthropic.*dropped mid-stream"):
        async for chunk in model.stream("Hi"):
            seen.append(chunk)
    assert [c.text for c in seen] == ["This", " is a straight", "forward question about pedest"]
    assert len(fake_server.received) == 1


@pytest.mark.parametrize("fault", [{"drop_after": 1}, {"stall_after": 1}])
async def test_a_fault_before_any_output_is_retried(
    fake_server: FakeProviderServer, fault: dict[str, int]
) -> None:
    fake_server.add(
        recorded_stream("anthropic_text_stream", **fault), recorded_stream("anthropic_text_stream")
    )
    model = model_for(fake_server, "claude-3-opus-latest", timeout=0.5)
    async with asyncio.timeout(60):
        chunks = [chunk async for chunk in model.stream("Hi")]
    assert chunks[-1].content == "Hello there!"
    assert len(fake_server.received) == 2


async def test_a_stream_cut_before_message_stop_is_a_response_error(
    fake_server: FakeProviderServer,
) -> None:
    reply = recorded_stream("anthropic_tool_use_stream")
    assert reply.chunks is not None
    fake_server.add(Reply(status=200, headers=reply.headers, chunks=reply.chunks[:-2]))
    with pytest.raises(ProviderResponseError, match="message_stop"):
        await collect(model_for(fake_server, "claude-sonnet-4-0"))


async def test_thinking_is_in_the_stream_and_the_response_event(
    fake_server: FakeProviderServer, bus: MessageBus
) -> None:
    fake_server.add(recorded_stream("anthropic_thinking_stream"))
    answered: list[LLMResponseEvent] = []
    bus.register_event_handler(LLMResponseEvent, answered.append)
    chunks = await collect(model_for(fake_server, "claude-sonnet-4-0"), thinking=1024)
    response = chunks[-1]
    thinking = "".join(chunk.text for chunk in chunks if isinstance(chunk, ThinkingDelta))
    assert thinking == response.thinking
    assert answered[-1].thinking == response.thinking
