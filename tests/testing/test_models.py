"""The offline models of llmgine.testing: TestModel, FunctionModel, ScriptedModel."""

from __future__ import annotations

import time
from datetime import date, datetime
from typing import Annotated, Any, Literal

import pytest
from pydantic import BaseModel, Field, Json

from llmgine import MessageBus
from llmgine.errors import (
    LLMgineError,
    ProviderAuthError,
    ProviderRateLimitError,
    ProviderServerError,
    ProviderTimeoutError,
    StructuredOutputError,
)
from llmgine.models.events import LLMCallEvent, LLMResponseEvent
from llmgine.models.response import (
    LLMResponse,
    TextDelta,
    ThinkingDelta,
    ThinkingPart,
    ToolCallDelta,
    Usage,
)
from llmgine.models.retry import NO_RETRY, RetryPolicy
from llmgine.testing import (
    CallInfo,
    FunctionModel,
    ScriptedModel,
    ScriptExhaustedError,
    TestModel,
    UnusedRepliesError,
    instrument,
)
from llmgine.tools.tool_call import ToolCall

FAST_RETRY = RetryPolicy(initial_delay=0.001, jitter=0)


def tool(name: str, parameters: dict[str, Any], description: str = "") -> dict[str, Any]:
    return {
        "type": "function",
        "function": {"name": name, "description": description, "parameters": parameters},
    }


def pydantic_tool(name: str, model: type[BaseModel]) -> dict[str, Any]:
    return tool(name, model.model_json_schema())


def record(bus: MessageBus, *event_types: type) -> list[Any]:
    seen: list[Any] = []
    for event_type in event_types:
        bus.register_event_handler(event_type, seen.append)
    return seen


# -- tool schemas exercising the value generator -------------------------------


class Location(BaseModel):
    city: str
    country: Literal["AU", "NZ"]
    lat: float = Field(ge=-90, le=90)


class WeatherArgs(BaseModel):
    location: Location
    days: int = Field(ge=3, le=10)
    units: Literal["celsius", "fahrenheit"] = "celsius"
    hourly: bool
    tags: list[Annotated[str, Field(min_length=2)]] = Field(min_length=2)
    when: date
    stamp: datetime
    note: str | None
    alternatives: list[Location]
    code: Annotated[str, Field(pattern=r"^[0-9]+$")]
    ticket: Annotated[str, Field(pattern=r"^[A-Z]{2}-\d{3}(x|yz)?$")]
    payload: Json[list[int]]
    ratio: float = Field(gt=0, lt=1)
    even: int = Field(multiple_of=2, gt=5)


class SearchArgs(BaseModel):
    query: str
    limit: int


async def test_test_model_calls_each_tool_once_with_valid_arguments() -> None:
    tools = [pydantic_tool("get_weather", WeatherArgs), pydantic_tool("search", SearchArgs)]
    response = await TestModel().generate("What is the weather?", tools=tools)

    assert response.finish_reason == "tool_calls"
    assert response.content is None
    assert [call.name for call in response.tool_calls] == ["get_weather", "search"]
    assert [call.id for call in response.tool_calls] == ["call_test_1", "call_test_2"]
    weather = WeatherArgs.model_validate_json(response.tool_calls[0].arguments)
    assert weather.days == 3
    assert weather.location.country == "AU"
    assert len(weather.tags) == 2
    assert weather.note is None or isinstance(weather.note, str)
    assert len(weather.alternatives) == 1
    assert weather.even % 2 == 0 and weather.even > 5
    assert 0 < weather.ratio < 1
    assert weather.ticket == "AA-000x"
    assert weather.payload == [0]
    assert SearchArgs.model_validate_json(response.tool_calls[1].arguments) == SearchArgs(
        query="a", limit=0
    )


async def test_test_model_handles_hand_written_schemas() -> None:
    schema = {
        "type": "object",
        "properties": {
            "mode": {"enum": ["fast", "slow"]},
            "version": {"const": 2},
            "name": {"type": ["string", "null"], "minLength": 3},
            "count": {"type": "integer", "exclusiveMinimum": 4},
            "choice": {"oneOf": [{"type": "null"}, {"$ref": "#/$defs/Point"}]},
            "size": {"type": "number", "default": 1.5},
            "flags": {"type": "array", "items": {"type": "boolean"}, "minItems": 2},
            "pair": {"type": "array", "prefixItems": [{"type": "integer"}, {"type": "string"}]},
            "optional": {"type": "string"},
        },
        "required": ["mode", "version", "name", "count", "choice", "size", "flags", "pair"],
        "$defs": {
            "Point": {
                "type": "object",
                "properties": {"x": {"type": "integer", "minimum": 7}, "y": {"type": "integer"}},
                "required": ["x"],
            }
        },
    }
    response = await TestModel().generate("go", tools=[tool("configure", schema)])

    arguments = response.tool_calls[0].parsed_arguments()
    assert arguments == {
        "mode": "fast",
        "version": 2,
        "name": "aaa",
        "count": 5,
        "choice": {"x": 7},
        "size": 1.5,
        "flags": [False, True],
        "pair": [0, "b"],
    }


async def test_test_model_tool_without_parameters_gets_empty_arguments() -> None:
    bare = {"type": "function", "function": {"name": "now"}}
    response = await TestModel().generate("time?", tools=[bare])
    assert response.tool_calls == [ToolCall(id="call_test_1", name="now", arguments="{}")]


async def test_test_model_seed_varies_the_values() -> None:
    tools = [pydantic_tool("search", SearchArgs)]
    response = await TestModel(seed=1).generate("go", tools=tools)
    assert response.tool_calls[0].parsed_arguments() == {"query": "b", "limit": 1}


async def test_test_model_summarises_tool_results_then_calls_again_next_turn() -> None:
    model = TestModel()
    tools = [pydantic_tool("get_weather", WeatherArgs), pydantic_tool("search", SearchArgs)]
    messages: list[dict[str, Any]] = [{"role": "user", "content": "Weather in Perth?"}]
    first = await model.generate(messages, tools=tools)
    messages.append(first.to_message())
    messages.append({"role": "tool", "tool_call_id": "call_test_1", "content": "17 °C"})
    messages.append({"role": "tool", "tool_call_id": "call_test_2", "content": "3 hits"})

    second = await model.generate(messages, tools=tools)
    assert second.finish_reason == "stop"
    assert second.tool_calls == []
    assert second.content == "Tool results: get_weather: 17 °C; search: 3 hits"

    messages += [second.to_message(), {"role": "user", "content": "And tomorrow?"}]
    third = await model.generate(messages, tools=tools)
    assert [call.id for call in third.tool_calls] == ["call_test_3", "call_test_4"]


async def test_test_model_respects_call_tools_and_tool_choice() -> None:
    tools = [pydantic_tool("search", SearchArgs), pydantic_tool("get_weather", WeatherArgs)]
    assert (await TestModel(call_tools=False).generate("x", tools=tools)).tool_calls == []
    only = await TestModel(call_tools=["search"]).generate("x", tools=tools)
    assert [call.name for call in only.tool_calls] == ["search"]
    none = await TestModel().generate("x", tools=tools, tool_choice="none")
    assert none.tool_calls == [] and none.content == TestModel.DEFAULT_TEXT
    forced = await TestModel(call_tools=False).generate(
        "x", tools=tools, tool_choice={"type": "function", "function": {"name": "get_weather"}}
    )
    assert [call.name for call in forced.tool_calls] == ["get_weather"]


async def test_test_model_fixed_text_without_tools() -> None:
    default = await TestModel().generate("hello")
    assert default.content == TestModel.DEFAULT_TEXT
    assert default.finish_reason == "stop"
    assert default.provider == "test" and default.model == "test"
    assert default.cost_usd is None  # pricing is the instrumentation's
    assert (await instrument(TestModel()).generate("hello")).cost_usd == 0.0
    custom = await TestModel(text="Hi there.", name="mini").generate("hello")
    assert custom.content == "Hi there."
    assert custom.model == "mini"


async def test_usage_is_non_zero_and_deterministic() -> None:
    messages = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "a b c"}]
    first = await TestModel(text="one two three").generate(messages)
    second = await TestModel(text="one two three").generate(messages)
    assert first.usage == second.usage
    assert first.usage.prompt_tokens > 0
    assert first.usage.completion_tokens == 3
    assert first.usage.total_tokens == first.usage.prompt_tokens + 3
    calls = await TestModel().generate("x", tools=[pydantic_tool("search", SearchArgs)])
    assert calls.usage.completion_tokens > 0


class Address(BaseModel):
    street: str
    postcode: Annotated[str, Field(min_length=4, max_length=4)]


class Person(BaseModel):
    name: str
    age: int = Field(ge=18)
    kind: Literal["customer", "staff"]
    addresses: list[Address] = Field(min_length=1)
    manager: Person | None = None
    nickname: str | None
    score: float


async def test_test_model_structured_output_for_a_nested_model(bus: MessageBus) -> None:
    seen = record(bus, LLMResponseEvent)
    person = await instrument(TestModel(), bus).generate("who?", response_model=Person)

    assert isinstance(person, Person)
    assert person.age == 18
    assert person.kind == "customer"
    assert person.addresses[0].postcode == "aaaa"
    value, response = await instrument(TestModel(), bus).generate_structured("who?", Person)
    assert value == person
    assert Person.model_validate_json(response.content or "") == person
    assert [event.error for event in seen] == [None, None]
    assert seen[0].usage.total_tokens > 0


async def test_test_model_structured_output_for_other_types() -> None:
    assert await TestModel().generate("n?", response_model=int) == 0
    assert await TestModel().generate("l?", response_model=list[Literal["x", "y"]]) == ["x"]


async def test_test_model_answers_a_json_schema_response_format() -> None:
    response_format = {
        "type": "json_schema",
        "json_schema": {"name": "Address", "schema": Address.model_json_schema()},
    }
    response = await TestModel().generate("where?", response_format=response_format)
    assert Address.model_validate_json(response.content or "") == Address(
        street="a", postcode="aaaa"
    )


# -- streaming, events, latency ---------------------------------------------------


async def test_streaming_yields_deltas_then_the_response(bus: MessageBus) -> None:
    model = TestModel(text="The quick brown fox.")
    chunks = [chunk async for chunk in model.stream("go")]

    deltas, final = chunks[:-1], chunks[-1]
    assert all(isinstance(chunk, TextDelta) for chunk in deltas)
    assert [delta.text for delta in deltas] == ["The ", "quick ", "brown ", "fox."]
    assert isinstance(final, LLMResponse)
    assert final.content == "".join(delta.text for delta in deltas)
    assert final.usage.total_tokens > 0


async def test_streaming_tool_calls(bus: MessageBus) -> None:
    tools = [pydantic_tool("search", SearchArgs)]
    chunks = [chunk async for chunk in TestModel().stream("go", tools=tools)]
    assert chunks[0] == ToolCallDelta(
        0, id="call_test_1", name="search", arguments='{"query": "a", "limit": 0}'
    )
    assert isinstance(chunks[-1], LLMResponse)
    assert chunks[-1].finish_reason == "tool_calls"


async def test_scripted_model_streams_word_by_word() -> None:
    model = ScriptedModel(["Hello  big world"])
    chunks = [chunk async for chunk in model.stream("go")]
    assert [c.text for c in chunks[:-1] if isinstance(c, TextDelta)] == ["Hello  ", "big ", "world"]
    assert chunks[-1].content == "Hello  big world"


async def test_call_and_response_events_for_each_call(bus: MessageBus) -> None:
    seen = record(bus, LLMCallEvent, LLMResponseEvent)
    model = instrument(TestModel(text="ok"), bus)
    await model.generate("one")
    await model.generate([{"role": "user", "content": "two"}], temperature=0.5)

    kinds = [type(event).__name__ for event in seen]
    assert kinds == ["LLMCallEvent", "LLMResponseEvent"] * 2
    first_call, first_response, second_call, second_response = seen
    assert first_call.provider == "test" and first_call.model == "test"
    assert first_call.messages == [{"role": "user", "content": "one"}]
    assert second_call.parameters == {"temperature": 0.5}
    assert first_response.call_id == first_call.call_id != second_call.call_id
    assert second_response.content == "ok"
    assert second_response.usage is not None and second_response.usage.total_tokens > 0
    assert second_response.cost_usd == 0.0


async def test_events_are_built_only_when_someone_listens(bus: MessageBus) -> None:
    model = instrument(TestModel(text="a b"), bus)
    seen = record(bus, LLMResponseEvent)
    chunks = [chunk async for chunk in model.stream("go")]
    assert len(chunks) == 3
    assert [type(event).__name__ for event in seen] == ["LLMResponseEvent"]
    assert (await instrument(TestModel()).generate("no sink")).content  # no events at all


@pytest.mark.parametrize(
    "make",
    [
        lambda: TestModel(latency=0.05),
        lambda: FunctionModel(lambda messages, info: "ok", latency=0.05),
        lambda: ScriptedModel(["ok"], latency=0.05),
    ],
    ids=["test", "function", "scripted"],
)
async def test_latency_is_simulated(make: Any) -> None:
    model = make()
    started = time.monotonic()
    await model.generate("hello")
    assert time.monotonic() - started >= 0.05 * 0.9


async def test_latency_past_the_timeout_is_a_timeout_error() -> None:
    model = TestModel(latency=0.05, timeout=0.01, retry=NO_RETRY)
    with pytest.raises(ProviderTimeoutError, match="simulated latency"):
        await model.generate("hello")


def test_negative_latency_is_refused() -> None:
    with pytest.raises(ValueError, match="latency"):
        TestModel(latency=-1)


# -- FunctionModel ------------------------------------------------------------


async def test_function_model_with_a_sync_function_returning_text() -> None:
    seen: list[tuple[list[dict[str, Any]], CallInfo]] = []

    def reply(messages: list[dict[str, Any]], info: CallInfo) -> str:
        seen.append((messages, info))
        return f"echo: {messages[-1]['content']}"

    model = FunctionModel(reply)
    tools = [pydantic_tool("search", SearchArgs)]
    response = await model.generate("hi", tools=tools)

    assert response.content == "echo: hi"
    assert response.finish_reason == "stop"
    assert response.provider == "function" and response.model == "function"
    assert response.usage.total_tokens > 0
    messages, info = seen[0]
    assert messages == [{"role": "user", "content": "hi"}]
    assert info.tools == tools and info.tool_names == ["search"]
    assert info.request.messages == messages
    assert info.index == 0 and info.model is model
    assert model.calls == 1


async def test_function_model_with_an_async_function_returning_tool_calls() -> None:
    async def reply(messages: list[dict[str, Any]], info: CallInfo) -> Any:
        if messages[-1]["role"] == "tool":
            return "done"
        return ToolCall("c1", "search", '{"query": "x", "limit": 1}')

    model = FunctionModel(reply)
    first = await model.generate("find x")
    assert first.finish_reason == "tool_calls"
    assert first.tool_calls == [ToolCall("c1", "search", '{"query": "x", "limit": 1}')]
    messages = [
        {"role": "user", "content": "find x"},
        first.to_message(),
        {"role": "tool", "tool_call_id": "c1", "content": "[]"},
    ]
    assert (await model.generate(messages)).content == "done"


async def test_function_model_returning_a_response_or_a_list_of_calls() -> None:
    given = LLMResponse(content="hi", usage=Usage(prompt_tokens=5, completion_tokens=2))
    response = await FunctionModel(lambda messages, info: given).generate("x")
    assert response.content == "hi"
    assert response.usage == Usage(prompt_tokens=5, completion_tokens=2)
    assert response.finish_reason == "stop" and response.provider == "function"
    assert given.provider == ""  # the function's object is not changed

    calls = [ToolCall("a", "one"), ToolCall("b", "two", {"k": 1})]  # type: ignore[arg-type]
    listed = await FunctionModel(lambda messages, info: calls).generate("x")
    assert [call.id for call in listed.tool_calls] == ["a", "b"]
    assert listed.tool_calls[1].arguments == '{"k": 1}'


async def test_function_model_rejects_unknown_return_values() -> None:
    with pytest.raises(TypeError, match="expected an LLMResponse"):
        await FunctionModel(lambda messages, info: 42).generate("x")
    with pytest.raises(TypeError, match="needs fn"):
        FunctionModel()


async def test_function_model_stream_fn_streams_piece_by_piece(bus: MessageBus) -> None:

    async def pieces(messages: list[dict[str, Any]], info: CallInfo) -> Any:
        assert info.stream
        yield "Hel"
        yield "lo"
        yield ToolCallDelta(0, id="t1", name="search", arguments='{"query"')
        yield ToolCallDelta(0, arguments=': "q", "limit": 2}')

    model = FunctionModel(lambda messages, info: "unused", stream_fn=pieces)
    chunks = [chunk async for chunk in model.stream("go")]

    assert [type(chunk).__name__ for chunk in chunks] == [
        "TextDelta",
        "TextDelta",
        "ToolCallDelta",
        "ToolCallDelta",
        "LLMResponse",
    ]
    final = chunks[-1]
    assert final.content == "Hello"
    assert final.tool_calls == [ToolCall("t1", "search", '{"query": "q", "limit": 2}')]
    assert final.finish_reason == "tool_calls"


async def test_function_model_stream_fn_alone_serves_generate_too() -> None:
    model = FunctionModel(stream_fn=lambda messages, info: ["a", "b", "c"])
    assert (await model.generate("x")).content == "abc"
    chunks = [chunk async for chunk in model.stream("x")]
    assert [c.text for c in chunks if isinstance(c, TextDelta)] == ["a", "b", "c"]


async def test_function_model_without_stream_fn_streams_the_whole_answer() -> None:
    chunks = [c async for c in FunctionModel(lambda m, i: "one two").stream("x")]
    assert chunks[0] == TextDelta("one two")
    assert chunks[1].content == "one two"


async def test_rate_limit_from_fn_is_retried(bus: MessageBus) -> None:
    seen = record(bus, LLMCallEvent, LLMResponseEvent)

    def flaky(messages: list[dict[str, Any]], info: CallInfo) -> str:
        if info.index == 0:
            raise ProviderRateLimitError(
                "slow down", provider="function", model="function", status=429
            )
        return "ok"

    model = FunctionModel(flaky, retry=FAST_RETRY)
    response = await instrument(model, bus).generate("hi")

    assert response.content == "ok"
    assert model.calls == 2
    calls = [event for event in seen if isinstance(event, LLMCallEvent)]
    responses = [event for event in seen if isinstance(event, LLMResponseEvent)]
    assert [event.attempt for event in calls] == [1, 2]
    assert len(responses) == 2
    assert responses[0].will_retry is True
    assert responses[0].status == 429
    assert "ProviderRateLimitError" in (responses[0].error or "")
    assert responses[1].error is None and responses[1].content == "ok"
    assert responses[1].will_retry is False
    assert {event.call_id for event in seen} == {calls[0].call_id}


async def test_auth_error_from_fn_is_not_retried(bus: MessageBus) -> None:
    seen = record(bus, LLMResponseEvent)

    def denied(messages: list[dict[str, Any]], info: CallInfo) -> str:
        raise ProviderAuthError("bad key", provider="function", model="function", status=401)

    model = FunctionModel(denied, retry=FAST_RETRY)
    with pytest.raises(ProviderAuthError):
        await instrument(model, bus).generate("hi")
    assert model.calls == 1
    assert len(seen) == 1
    assert seen[0].will_retry is False and seen[0].status == 401


async def test_retry_gives_up_after_max_attempts() -> None:
    error = ProviderServerError("down", provider="scripted", model="scripted", status=503)
    model = ScriptedModel([error] * 3, retry=RetryPolicy(max_attempts=3, initial_delay=0.001))
    with pytest.raises(ProviderServerError, match="gave up after 3 attempts"):
        await instrument(model).generate("hi")
    model.assert_complete()


async def test_a_bare_model_makes_one_attempt() -> None:
    error = ProviderServerError("down", provider="scripted", model="scripted", status=503)
    model = ScriptedModel([error, "never"])
    with pytest.raises(ProviderServerError):
        await model.generate("hi")  # retries are the instrumentation's
    assert model.remaining == 1


# -- ScriptedModel --------------------------------------------------------------


async def test_scripted_model_replies_in_order_and_records_requests() -> None:
    call = ToolCall("call_1", "search", '{"query": "x", "limit": 1}')
    model = ScriptedModel(
        [
            "first",
            call,
            [call, ToolCall("call_2", "search")],
            LLMResponse(content="fourth"),
            lambda messages: f"fifth after {len(messages)} messages",
        ]
    )
    assert (await model.generate("1")).content == "first"
    assert (await model.generate("2")).tool_calls == [call]
    third = await model.generate("3", tools=[pydantic_tool("search", SearchArgs)])
    assert [c.id for c in third.tool_calls] == ["call_1", "call_2"]
    assert third.finish_reason == "tool_calls"
    fourth = await model.generate("4")
    assert fourth.content == "fourth" and fourth.provider == "scripted"
    assert fourth.usage.total_tokens > 0
    assert (await model.generate("5")).content == "fifth after 1 messages"

    assert [request.messages[-1]["content"] for request in model.requests] == [
        "1",
        "2",
        "3",
        "4",
        "5",
    ]
    assert model.requests[2].tools is not None
    assert model.remaining == 0
    model.assert_complete()


async def test_scripted_model_async_callable_reply() -> None:
    async def reply(messages: list[dict[str, Any]]) -> str:
        return messages[0]["content"].upper()

    assert (await ScriptedModel([reply]).generate("abc")).content == "ABC"


async def test_scripted_model_raises_scripted_exceptions() -> None:
    model = ScriptedModel([ProviderAuthError("nope", provider="x", model="y"), "after"])
    with pytest.raises(ProviderAuthError, match="nope"):
        await model.generate("1")
    assert (await model.generate("2")).content == "after"


async def test_scripted_model_retryable_exception_uses_the_next_reply() -> None:
    error = ProviderServerError("down", provider="scripted", model="scripted", status=503)
    model = ScriptedModel([error, "recovered"], retry=FAST_RETRY)
    assert (await instrument(model).generate("hi")).content == "recovered"
    assert len(model.requests) == 2


async def test_scripted_model_exhausted_error_is_clear(bus: MessageBus) -> None:
    seen = record(bus, LLMResponseEvent)
    model = ScriptedModel(["only"], retry=FAST_RETRY)
    wired = instrument(model, bus)
    await wired.generate("one")
    with pytest.raises(ScriptExhaustedError, match="ran out of replies") as info:
        await wired.generate("what now?")
    message = str(info.value)
    assert "call 2" in message and "has 1" in message and "what now?" in message
    assert isinstance(info.value, LLMgineError) and isinstance(info.value, AssertionError)
    assert [event.will_retry for event in seen] == [False, False]  # not retried


async def test_assert_complete_names_the_unused_replies() -> None:
    model = ScriptedModel(["a", "b", "c"])
    await model.generate("x")
    with pytest.raises(UnusedRepliesError, match="2 of 3 scripted replies were not used"):
        model.assert_complete()
    await model.generate("x")
    with pytest.raises(UnusedRepliesError, match="1 of 3 scripted reply was not used"):
        model.assert_complete()


def test_scripted_model_rejects_bad_replies() -> None:
    with pytest.raises(TypeError, match="reply 2"):
        ScriptedModel(["ok", 42])
    with pytest.raises(TypeError, match="exception class"):
        ScriptedModel([ProviderAuthError])
    with pytest.raises(TypeError, match="list of replies"):
        ScriptedModel("hello")  # type: ignore[arg-type]


class Answer(BaseModel):
    city: str
    temperature: int


async def test_structured_output_repairs_an_invalid_reply(bus: MessageBus) -> None:
    seen = record(bus, LLMResponseEvent)
    model = ScriptedModel(["not json at all", '{"city": "Perth", "temperature": 17}'])
    answer = await instrument(model, bus).generate("weather?", response_model=Answer)

    assert answer == Answer(city="Perth", temperature=17)
    first, second = model.requests
    assert first.response_format is not None
    assert first.response_format["type"] == "json_schema"
    assert second.messages[-2] == {"role": "assistant", "content": "not json at all"}
    repair = second.messages[-1]
    assert repair["role"] == "user"
    assert "did not match the required JSON schema" in repair["content"]
    assert "Invalid JSON" in repair["content"]
    assert len(first.messages) == 1
    model.assert_complete()
    assert len(seen) == 1
    assert seen[0].usage.prompt_tokens > 0


async def test_structured_output_repair_names_the_failing_field() -> None:
    model = ScriptedModel(['{"city": "Perth"}', '{"city": "Perth", "temperature": 17}'])
    value, response = await model.generate_structured("weather?", Answer)
    assert value.temperature == 17
    assert "temperature" in model.requests[1].messages[-1]["content"]
    assert response.usage.prompt_tokens > 0


async def test_structured_output_gives_up_after_the_validation_retries() -> None:
    model = ScriptedModel(["nope", "{}", '{"city": 1}'])
    with pytest.raises(StructuredOutputError, match="no answer matched Answer after 3 tries"):
        await model.generate("weather?", response_model=Answer, max_validation_retries=2)
    model.assert_complete()


def test_test_model_is_not_collected_by_pytest() -> None:
    assert TestModel.__test__ is False
    assert repr(TestModel()) == "TestModel('test')"
    assert repr(TestModel(name="fast")) == "TestModel('test:fast')"


async def test_a_scripted_answer_with_thinking_streams_it_first(bus: MessageBus) -> None:
    answer = LLMResponse(content="Hi!", thinking_blocks=[ThinkingPart("A greeting.", "sig")])
    chunks = [chunk async for chunk in ScriptedModel([answer]).stream("Hello")]
    assert [type(c).__name__ for c in chunks] == ["ThinkingDelta", "TextDelta", "LLMResponse"]
    assert chunks[0] == ThinkingDelta("A greeting.")
    assert chunks[-1].thinking_blocks == [ThinkingPart("A greeting.", "sig")]


async def test_a_function_model_streams_thinking_deltas(bus: MessageBus) -> None:
    model = FunctionModel(stream_fn=lambda messages, info: [ThinkingDelta("Hm."), "Yes."])
    chunks = [chunk async for chunk in model.stream("Well?")]
    assert chunks[0] == ThinkingDelta("Hm.")
    assert chunks[-1].content == "Yes." and chunks[-1].thinking == "Hm."
