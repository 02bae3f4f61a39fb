"""The pure OpenAI <-> Anthropic translation of the Anthropic provider."""

import json
from types import SimpleNamespace
from typing import Any

import pytest

from llmgine.models.anthropic_format import (
    DEFAULT_THINKING_BUDGET,
    RAW_ARGUMENTS_KEY,
    anthropic_usage,
    finish_reason,
    parse_message,
    thinking_config,
    to_anthropic_messages,
    to_anthropic_tool_choice,
    to_anthropic_tools,
    to_output_config,
)
from llmgine.models.response import RedactedThinkingPart, ThinkingPart
from llmgine.tools.tool_call import ToolCall


def call(call_id: str, name: str, arguments: str) -> dict[str, Any]:
    return {"id": call_id, "type": "function", "function": {"name": name, "arguments": arguments}}


# -- messages -------------------------------------------------------------------


def test_system_messages_become_the_system_parameter() -> None:
    system, messages = to_anthropic_messages(
        [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Hi"},
            {"role": "developer", "content": [{"type": "text", "text": "Use French."}]},
            {"role": "system", "content": ""},
        ]
    )
    assert system == "Be brief.\n\nUse French."
    assert messages == [{"role": "user", "content": "Hi"}]


def test_no_system_message_gives_none() -> None:
    system, messages = to_anthropic_messages([{"role": "user", "content": "Hi"}])
    assert system is None
    assert messages == [{"role": "user", "content": "Hi"}]


def test_tool_calls_and_results_become_blocks_and_turns_merge() -> None:
    system, messages = to_anthropic_messages(
        [
            {"role": "user", "content": "Weather in Paris and Rome?"},
            {
                "role": "assistant",
                "content": "Checking.",
                "tool_calls": [
                    call("toolu_1", "get_weather", '{"city": "Paris"}'),
                    call("toolu_2", "get_weather", '{"city": "Rome"}'),
                ],
            },
            {"role": "tool", "tool_call_id": "toolu_1", "content": "18C"},
            {"role": "tool", "tool_call_id": "toolu_2", "content": "24C"},
            {"role": "user", "content": "And tomorrow?"},
        ]
    )
    assert system is None
    assert messages == [
        {"role": "user", "content": "Weather in Paris and Rome?"},
        {
            "role": "assistant",
            "content": [
                {"type": "text", "text": "Checking."},
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
                {"type": "text", "text": "And tomorrow?"},
            ],
        },
    ]


def test_consecutive_user_and_assistant_turns_merge() -> None:
    _, messages = to_anthropic_messages(
        [
            {"role": "user", "content": "One."},
            {"role": "user", "content": [{"type": "text", "text": "Two."}]},
            {"role": "assistant", "content": "A"},
            {"role": "assistant", "content": "B"},
        ]
    )
    assert messages == [
        {
            "role": "user",
            "content": [{"type": "text", "text": "One."}, {"type": "text", "text": "Two."}],
        },
        {
            "role": "assistant",
            "content": [{"type": "text", "text": "A"}, {"type": "text", "text": "B"}],
        },
    ]


def test_tool_results_go_before_text_in_a_merged_user_turn() -> None:
    _, messages = to_anthropic_messages(
        [
            {"role": "assistant", "content": None, "tool_calls": [call("t1", "f", "{}")]},
            {"role": "user", "content": "Note this."},
            {"role": "tool", "tool_call_id": "t1", "content": "done"},
        ]
    )
    assert [block["type"] for block in messages[1]["content"]] == ["tool_result", "text"]


def test_empty_assistant_content_is_not_sent_as_an_empty_text_block() -> None:
    _, messages = to_anthropic_messages(
        [
            {"role": "user", "content": "Hi"},
            {"role": "assistant", "content": "", "tool_calls": [call("t1", "f", "")]},
            {"role": "tool", "tool_call_id": "t1", "content": ""},
            {"role": "assistant", "content": None},
            {"role": "assistant", "content": "   "},
        ]
    )
    assert messages == [
        {"role": "user", "content": "Hi"},
        {
            "role": "assistant",
            "content": [{"type": "tool_use", "id": "t1", "name": "f", "input": {}}],
        },
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1"}]},
    ]


@pytest.mark.parametrize("arguments", ['{"city": "Par', "[1, 2]", "not json"])
def test_arguments_that_are_not_a_json_object_do_not_crash(arguments: str) -> None:
    _, messages = to_anthropic_messages(
        [{"role": "assistant", "content": None, "tool_calls": [call("t1", "f", arguments)]}]
    )
    (block,) = messages[0]["content"]
    assert block["input"] == {RAW_ARGUMENTS_KEY: arguments}


def test_images_become_base64_or_url_sources() -> None:
    _, messages = to_anthropic_messages(
        [
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "Compare:"},
                    {
                        "type": "image_url",
                        "image_url": {"url": "data:image/png;base64,iVBORw0KGgo=", "detail": "low"},
                    },
                    {"type": "image_url", "image_url": {"url": "https://example.com/cat.jpg"}},
                    {"type": "text", "text": ""},
                ],
            }
        ]
    )
    assert messages[0]["content"] == [
        {"type": "text", "text": "Compare:"},
        {
            "type": "image",
            "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="},
        },
        {"type": "image", "source": {"type": "url", "url": "https://example.com/cat.jpg"}},
    ]


def test_pdf_file_parts_become_documents_and_native_blocks_pass_through() -> None:
    native = {"type": "text", "text": "cached", "cache_control": {"type": "ephemeral"}}
    _, messages = to_anthropic_messages(
        [
            {
                "role": "user",
                "content": [
                    {
                        "type": "file",
                        "file": {
                            "filename": "a.pdf",
                            "file_data": "data:application/pdf;base64,JVBE",
                        },
                    },
                    native,
                ],
            }
        ]
    )
    assert messages[0]["content"] == [
        {
            "type": "document",
            "source": {"type": "base64", "media_type": "application/pdf", "data": "JVBE"},
        },
        native,
    ]


def test_tool_results_with_content_parts_keep_them_as_blocks() -> None:
    _, messages = to_anthropic_messages(
        [
            {
                "role": "tool",
                "tool_call_id": "t1",
                "content": [{"type": "text", "text": "line 1"}, {"type": "text", "text": "line 2"}],
            }
        ]
    )
    assert messages[0]["content"] == [
        {
            "type": "tool_result",
            "tool_use_id": "t1",
            "content": [{"type": "text", "text": "line 1"}, {"type": "text", "text": "line 2"}],
        }
    ]


def test_unknown_roles_and_parts_are_refused() -> None:
    with pytest.raises(ValueError, match="role 'function'"):
        to_anthropic_messages([{"role": "function", "name": "f", "content": "x"}])
    with pytest.raises(ValueError, match="input_audio"):
        to_anthropic_messages([{"role": "user", "content": [{"type": "input_audio"}]}])


def test_the_input_messages_are_not_modified() -> None:
    original = [
        {"role": "tool", "tool_call_id": "t1", "content": "r"},
        {"role": "user", "content": [{"type": "text", "text": "x"}]},
    ]
    snapshot = json.loads(json.dumps(original))
    to_anthropic_messages(original)
    assert original == snapshot


# -- tools --------------------------------------------------------------------


def test_function_tools_become_anthropic_tools() -> None:
    parameters = {"type": "object", "properties": {"city": {"type": "string"}}}
    native = {"type": "web_search_20250305", "name": "web_search", "max_uses": 2}
    assert to_anthropic_tools(
        [
            {
                "type": "function",
                "function": {
                    "name": "get_weather",
                    "description": "Weather.",
                    "parameters": parameters,
                },
            },
            {"type": "function", "function": {"name": "ping", "strict": True}},
            native,
        ]
    ) == [
        {"name": "get_weather", "description": "Weather.", "input_schema": parameters},
        {"name": "ping", "input_schema": {"type": "object", "properties": {}}, "strict": True},
        native,
    ]


@pytest.mark.parametrize(
    ("choice", "expected"),
    [
        ("auto", {"type": "auto"}),
        ("required", {"type": "any"}),
        ("none", {"type": "none"}),
        (
            {"type": "function", "function": {"name": "get_weather"}},
            {"type": "tool", "name": "get_weather"},
        ),
        ({"type": "any"}, {"type": "any"}),
        (None, None),
    ],
)
def test_tool_choice(choice: Any, expected: Any) -> None:
    assert to_anthropic_tool_choice(choice) == expected


def test_parallel_tool_calls_false_disables_parallel_tool_use() -> None:
    assert to_anthropic_tool_choice("auto", parallel_tool_calls=False) == {
        "type": "auto",
        "disable_parallel_tool_use": True,
    }
    assert to_anthropic_tool_choice("none", parallel_tool_calls=False) == {"type": "none"}
    with pytest.raises(ValueError):
        to_anthropic_tool_choice("sometimes")


def test_response_format_json_schema_becomes_output_config() -> None:
    schema = {"type": "object", "properties": {"a": {"type": "integer"}}}
    assert to_output_config(
        {"type": "json_schema", "json_schema": {"name": "A", "schema": schema, "strict": True}}
    ) == {"format": {"type": "json_schema", "schema": schema}}
    assert to_output_config({"type": "json_object"}) is None
    assert to_output_config(None) is None


# -- responses ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("stop_reason", "expected"),
    [
        ("end_turn", "stop"),
        ("stop_sequence", "stop"),
        ("tool_use", "tool_calls"),
        ("max_tokens", "length"),
        ("refusal", "content_filter"),
        ("pause_turn", "pause_turn"),
        (None, None),
    ],
)
def test_finish_reason(stop_reason: str | None, expected: str | None) -> None:
    assert finish_reason(stop_reason) == expected


def test_usage_counts_cache_reads_and_writes_as_prompt_tokens() -> None:
    usage = anthropic_usage(
        {
            "input_tokens": 10,
            "cache_read_input_tokens": 100,
            "cache_creation_input_tokens": 20,
            "output_tokens": 7,
            "output_tokens_details": {"thinking_tokens": 3},
        }
    )
    assert usage.prompt_tokens == 130
    assert usage.cached_tokens == 100
    assert usage.completion_tokens == 7
    assert usage.reasoning_tokens == 3
    assert usage.total_tokens == 137
    assert anthropic_usage(None).total_tokens == 0


def test_parse_message_joins_text_and_turns_tool_use_into_tool_calls() -> None:
    message = {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "model": "claude-haiku-4-5-20251001",
        "content": [
            {"type": "thinking", "thinking": "hmm", "signature": "s"},
            {"type": "text", "text": "Let me "},
            {"type": "text", "text": "check."},
            {
                "type": "tool_use",
                "id": "toolu_1",
                "name": "get_weather",
                "input": {"city": "Paris"},
            },
            {"type": "tool_use", "id": "toolu_2", "name": "now", "input": {}},
        ],
        "stop_reason": "tool_use",
        "usage": {"input_tokens": 5, "output_tokens": 9},
    }
    response = parse_message(message, "anthropic", "claude-haiku-4-5")
    assert response.content == "Let me check."
    assert response.tool_calls == [
        ToolCall(id="toolu_1", name="get_weather", arguments='{"city": "Paris"}'),
        ToolCall(id="toolu_2", name="now", arguments="{}"),
    ]
    assert response.finish_reason == "tool_calls"
    assert response.usage.total_tokens == 14
    assert response.model == "claude-haiku-4-5-20251001"
    assert response.provider == "anthropic"
    assert response.raw is message


def test_parse_message_reads_sdk_objects_and_no_text_gives_none() -> None:
    message = SimpleNamespace(
        content=[SimpleNamespace(type="tool_use", id="t", name="f", input={"x": 1})],
        stop_reason="tool_use",
        usage=SimpleNamespace(input_tokens=1, output_tokens=2),
        model=None,
    )
    response = parse_message(message, "anthropic", "claude-x")
    assert response.content is None
    assert response.tool_calls[0].parsed_arguments() == {"x": 1}
    assert response.model == "claude-x"


def test_usage_keeps_cache_writes_apart_split_by_lifetime() -> None:
    usage = anthropic_usage(
        {
            "input_tokens": 5,
            "cache_read_input_tokens": 0,
            "cache_creation_input_tokens": 300,
            "cache_creation": {"ephemeral_5m_input_tokens": 100, "ephemeral_1h_input_tokens": 200},
            "output_tokens": 1,
        }
    )
    assert usage.prompt_tokens == 305
    assert usage.cache_write_tokens == 300
    assert usage.cache_write_1h_tokens == 200 and usage.cache_write_5m_tokens == 100
    # Only the split reported: the writes are still counted.
    split_only = anthropic_usage(
        {"input_tokens": 1, "cache_creation": {"ephemeral_1h_input_tokens": 40}, "output_tokens": 1}
    )
    assert split_only.cache_write_tokens == 40 and split_only.prompt_tokens == 41


def test_parse_message_keeps_thinking_and_redacted_blocks_in_order() -> None:
    message = {
        "type": "message",
        "content": [
            {"type": "thinking", "thinking": "first", "signature": "sig-1"},
            {"type": "redacted_thinking", "data": "opaque"},
            {"type": "thinking", "thinking": "", "signature": "sig-2"},
            {"type": "text", "text": "Answer."},
        ],
        "stop_reason": "end_turn",
        "usage": {"input_tokens": 1, "output_tokens": 1},
    }
    response = parse_message(message, "anthropic", "claude-x")
    assert response.thinking_blocks == [
        ThinkingPart("first", "sig-1"),
        RedactedThinkingPart("opaque"),
        ThinkingPart("", "sig-2"),
    ]
    assert response.thinking == "first"
    assert response.content == "Answer."
    assert response.to_message()["thinking_blocks"] == [
        {"type": "thinking", "thinking": "first", "signature": "sig-1"},
        {"type": "redacted_thinking", "data": "opaque"},
        {"type": "thinking", "thinking": "", "signature": "sig-2"},
    ]


def test_thinking_blocks_go_first_in_the_assistant_turn_unchanged() -> None:
    blocks = [
        {"type": "thinking", "thinking": "Let me look.", "signature": "EqEE"},
        {"type": "redacted_thinking", "data": "Eo4C"},
    ]
    _, messages = to_anthropic_messages(
        [
            {"role": "user", "content": "Weather?"},
            {
                "role": "assistant",
                "content": "Checking.",
                "thinking_blocks": blocks,
                "tool_calls": [
                    {
                        "id": "toolu_1",
                        "type": "function",
                        "function": {"name": "get_weather", "arguments": "{}"},
                    }
                ],
            },
            {"role": "tool", "tool_call_id": "toolu_1", "content": "18C"},
        ]
    )
    assert messages[1]["content"] == [
        *blocks,
        {"type": "text", "text": "Checking."},
        {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {}},
    ]
    # Typed blocks are accepted too.
    _, typed = to_anthropic_messages(
        [{"role": "assistant", "content": None, "thinking_blocks": [ThinkingPart("x", "s")]}]
    )
    assert typed[0]["content"] == [{"type": "thinking", "thinking": "x", "signature": "s"}]


def test_a_thinking_block_that_is_not_one_is_refused() -> None:
    with pytest.raises(ValueError, match="not a thinking block"):
        to_anthropic_messages(
            [{"role": "assistant", "content": "x", "thinking_blocks": [{"type": "text"}]}]
        )


@pytest.mark.parametrize(
    ("setting", "expected"),
    [
        (4096, {"type": "enabled", "budget_tokens": 4096}),
        ("2048", {"type": "enabled", "budget_tokens": 2048}),
        (True, {"type": "enabled", "budget_tokens": DEFAULT_THINKING_BUDGET}),
        ("enabled", {"type": "enabled", "budget_tokens": DEFAULT_THINKING_BUDGET}),
        ("adaptive", {"type": "adaptive"}),
        (False, {"type": "disabled"}),
        (0, {"type": "disabled"}),
        ("off", {"type": "disabled"}),
        ({"type": "enabled", "budget_tokens": 1024}, {"type": "enabled", "budget_tokens": 1024}),
        (None, None),
    ],
)
def test_thinking_config(setting: Any, expected: dict[str, Any] | None) -> None:
    assert thinking_config(setting) == expected


@pytest.mark.parametrize("setting", ["lots", 1.5, {"budget_tokens": 10}, ["enabled"]])
def test_thinking_config_refuses_what_it_cannot_send(setting: Any) -> None:
    with pytest.raises(ValueError, match="thinking"):
        thinking_config(setting)


def test_unsigned_thinking_from_another_provider_is_not_sent() -> None:
    _, messages = to_anthropic_messages(
        [
            {"role": "user", "content": "Hi"},
            {
                "role": "assistant",
                "content": "Hello!",
                "thinking_blocks": [{"type": "thinking", "thinking": "DeepSeek's reasoning"}],
            },
        ]
    )
    assert messages[1] == {"role": "assistant", "content": "Hello!"}
