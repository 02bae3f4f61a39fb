"""MCP tools as LLMgine tools: names, schemas, argument checks, approval, results.

The listings and results are the SDK's own types, as a server sends them.
"""

import json
import sys

import pytest
from mcp.types import (
    AudioContent,
    BlobResourceContents,
    CallToolResult,
    EmbeddedResource,
    ImageContent,
    ResourceLink,
    TextContent,
    TextResourceContents,
    ToolAnnotations,
)
from mcp.types import Tool as MCPTool

from llmgine.errors import ToolCallError
from llmgine.tools import ToolCall, to_anthropic, to_openai
from llmgine.tools.execution import ArgumentsError, parse_arguments
from llmgine.tools.mcp.convert import (
    approval_needed,
    mcp_tool,
    normalized_schema,
    tool_names,
    tool_output,
)
from llmgine.tools.result import ToolOutput
from llmgine.tools.schema import _NAME


async def never_called(name: str, arguments: dict) -> None:
    raise AssertionError("not called")


def test_names_are_kept_or_prefixed_and_sanitised() -> None:
    names = tool_names(["add", "get.weather", "héllo wörld"], None)
    assert names == {"add": "add", "get.weather": "get_weather", "héllo wörld": "h_llo_w_rld"}
    prefixed = tool_names(["add", "search/docs"], "my server")
    assert prefixed == {"add": "my_server_add", "search/docs": "my_server_search_docs"}
    assert all(_NAME.match(name) for name in [*names.values(), *prefixed.values()])


def test_long_names_and_names_that_sanitise_alike_stay_unique_and_stable() -> None:
    long = "x" * 80
    names = tool_names([long, "a.b", "a_b", "a-b"], "p")
    assert len(names[long]) == 64 and _NAME.match(names[long])
    assert names["a_b"] == "p_a_b"  # unchanged by sanitising: keeps its name
    assert names["a.b"] != "p_a_b" and names["a.b"].startswith("p_a_b_")
    assert names["a-b"] == "p_a-b"
    assert len(set(names.values())) == 4
    assert tool_names([long, "a.b", "a_b"], "p") == {k: names[k] for k in (long, "a.b", "a_b")}


def test_schemas_are_copied_and_completed_never_changed() -> None:
    listed = {"$schema": "https://json-schema.org/draft/2020-12/schema"}
    schema = normalized_schema(listed)
    assert schema == {"type": "object", "properties": {}}
    assert listed == {"$schema": "https://json-schema.org/draft/2020-12/schema"}
    nested = {"type": "object", "properties": {"q": {"type": "string", "format": "uri"}}}
    copy = normalized_schema(nested)
    copy["properties"]["q"]["type"] = "changed"
    assert nested["properties"]["q"]["type"] == "string"


def listed(name: str = "search", schema: dict | None = None, **fields: object) -> MCPTool:
    return MCPTool(
        name=name,
        description=fields.pop("description", "Search the docs."),  # type: ignore[arg-type]
        input_schema=schema
        or {
            "type": "object",
            "properties": {"query": {"type": "string"}, "limit": {"type": "integer"}},
            "required": ["query"],
        },
        **fields,  # type: ignore[arg-type]
    )


def test_strict_mode_only_when_the_schema_fits_it() -> None:
    loose = mcp_tool(listed(), "search", "docs", never_called, timeout=5)
    assert loose.strict is False
    assert "strict" not in to_openai(loose)["function"]
    assert to_openai(loose)["function"]["parameters"] == loose.parameters
    exact = {
        "type": "object",
        "properties": {"query": {"type": "string"}},
        "required": ["query"],
        "additionalProperties": False,
    }
    strict = mcp_tool(listed(schema=exact), "search", "docs", never_called, timeout=5)
    assert strict.strict is True and to_openai(strict)["function"]["strict"] is True
    assert to_anthropic(strict)["input_schema"] == exact
    with_uri = {**exact, "properties": {"query": {"type": "string", "format": "uri"}}}
    assert not mcp_tool(listed(schema=with_uri), "s", "d", never_called, timeout=5).strict


def test_arguments_are_checked_against_the_json_schema_with_readable_errors() -> None:
    tool = mcp_tool(listed(), "docs_search", "docs", never_called, timeout=5)
    assert tool.server == "docs" and tool.arguments_model is None
    good = ToolCall(id="1", name="docs_search", arguments='{"query": "mcp", "limit": 3}')
    assert parse_arguments(tool, good) == {"query": "mcp", "limit": 3}
    bad = ToolCall(id="2", name="docs_search", arguments='{"limit": "three"}')
    with pytest.raises(ArgumentsError) as caught:
        parse_arguments(tool, bad)
    text = str(caught.value)
    assert text.startswith("Error: invalid arguments for docs_search:")
    assert "- query: required but missing" in text
    assert "- limit: 'three' is not of type 'integer'" in text
    assert text.endswith("Its parameters are: query, limit.")
    closed = listed(schema={**listed().input_schema, "additionalProperties": False})
    extra = ToolCall(id="3", name="s", arguments='{"query": "a", "color": "red"}')
    with pytest.raises(ArgumentsError, match="- color: not a parameter of s"):
        parse_arguments(mcp_tool(closed, "s", "docs", never_called, timeout=5), extra)


def test_a_schema_with_a_root_one_of_is_offered_flat_and_still_checked() -> None:
    either = {
        "type": "object",
        "properties": {"mode": {"type": "string"}},
        "required": ["mode"],
        "oneOf": [
            {"properties": {"city": {"type": "string"}}, "required": ["city"]},
            {
                "properties": {"lat": {"type": "number"}, "lon": {"type": "number"}},
                "required": ["lat", "lon"],
            },
        ],
    }
    tool = mcp_tool(listed(schema=either), "w", "docs", never_called, timeout=5)
    assert not {"oneOf", "anyOf", "allOf"} & set(tool.parameters)  # Anthropic refuses them
    assert set(tool.parameters["properties"]) == {"mode", "city", "lat", "lon"}
    assert tool.parameters["required"] == ["mode"]
    assert to_anthropic(tool)["input_schema"] == tool.parameters
    good = ToolCall(id="1", name="w", arguments='{"mode": "m", "city": "Perth"}')
    assert parse_arguments(tool, good) == {"mode": "m", "city": "Perth"}
    with pytest.raises(ArgumentsError):  # matches no branch: the server's schema decides
        parse_arguments(tool, ToolCall(id="2", name="w", arguments='{"mode": "m"}'))


def test_an_invalid_schema_checks_nothing_and_leaves_it_to_the_server() -> None:
    broken = listed(schema={"type": "object", "properties": {"q": {"type": 12}}})
    tool = mcp_tool(broken, "s", "docs", never_called, timeout=5)
    call = ToolCall(id="1", name="s", arguments='{"q": 1}')
    assert parse_arguments(tool, call) == {"q": 1}


@pytest.mark.parametrize(
    ("annotations", "override", "expected"),
    [
        (None, None, False),
        (ToolAnnotations(destructive_hint=True), None, True),
        (ToolAnnotations(destructive_hint=True, read_only_hint=True), None, False),
        (ToolAnnotations(destructive_hint=False), None, False),
        (ToolAnnotations(destructive_hint=True), False, False),
        (None, True, True),
        (None, {"search"}, True),
        (ToolAnnotations(destructive_hint=True), {"other"}, False),
        # The spec's defaults: readOnlyHint false and destructiveHint true.
        (ToolAnnotations(read_only_hint=False), None, True),
        (ToolAnnotations(title="Search"), None, True),
        (ToolAnnotations(read_only_hint=True), None, False),
    ],
)
def test_destructive_tools_need_approval_by_default(
    annotations: ToolAnnotations | None, override: object, expected: bool
) -> None:
    assert approval_needed("search", annotations, override) is expected  # type: ignore[arg-type]
    tool = mcp_tool(
        listed(annotations=annotations),
        "s",
        "docs",
        never_called,
        timeout=5,
        requires_approval=override,  # type: ignore[arg-type]
    )
    assert tool.options.requires_approval is expected


def test_text_and_structured_results() -> None:
    text = tool_output(
        "docs",
        "search",
        CallToolResult(
            content=[TextContent(type="text", text="a"), TextContent(type="text", text="b")]
        ),
    )
    assert text == ToolOutput(text="a\nb", parts=None, value="a\nb")
    structured = CallToolResult(
        content=[TextContent(type="text", text='{\n  "total": 3\n}')],
        structured_content={"total": 3},
    )
    output = tool_output("calc", "add", structured)
    assert output.value == {"total": 3} and json.loads(output.text) == {"total": 3}
    only_structured = CallToolResult(content=[], structured_content={"total": 3, "ü": "ö"})
    assert tool_output("calc", "add", only_structured).text == '{"total": 3, "ü": "ö"}'


def test_images_are_described_in_the_text_and_kept_as_a_part() -> None:
    result = CallToolResult(
        content=[
            TextContent(type="text", text="a chart"),
            ImageContent(type="image", data="aGVsbG8=", mime_type="image/png"),
            AudioContent(type="audio", data="AAAA", mime_type="audio/wav"),
        ]
    )
    output = tool_output("charts", "plot", result)
    assert output.text == "a chart\n[image/png, 5 bytes]\n[audio/wav, 3 bytes]"
    assert output.parts == [
        {"type": "text", "text": output.text},
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,aGVsbG8="}},
    ]


def test_an_image_type_a_provider_may_refuse_is_only_described() -> None:
    result = CallToolResult(
        content=[ImageContent(type="image", data="PHN2Zz4=", mime_type="image/svg+xml")]
    )
    output = tool_output("charts", "plot", result)
    assert output.text == "[image/svg+xml, 5 bytes]" and output.parts is None


def test_resources_and_links_are_described() -> None:
    result = CallToolResult(
        content=[
            ResourceLink(type="resource_link", uri="file:///tmp/a.txt", name="a.txt"),
            EmbeddedResource(
                type="resource",
                resource=TextResourceContents(uri="file:///tmp/b.txt", text="inside b"),
            ),
            EmbeddedResource(
                type="resource",
                resource=BlobResourceContents(
                    uri="file:///tmp/c.bin", blob="AAAA", mime_type="application/zip"
                ),
            ),
        ]
    )
    assert tool_output("files", "read", result).text.splitlines() == [
        "[resource file:///tmp/a.txt (a.txt)]",
        "inside b",
        "[resource file:///tmp/c.bin: application/zip, 3 bytes]",
    ]


def test_error_results_become_errors_for_the_model() -> None:
    server_text = CallToolResult(
        content=[TextContent(type="text", text="no such city")], is_error=True
    )
    with pytest.raises(ToolCallError, match=r"^Error: no such city$"):
        tool_output("weather", "forecast", server_text)
    already = CallToolResult(
        content=[TextContent(type="text", text="Error executing tool boom")], is_error=True
    )
    with pytest.raises(ToolCallError, match=r"^Error executing tool boom$"):
        tool_output("demo", "boom", already)
    silent = CallToolResult(content=[], is_error=True)
    with pytest.raises(ToolCallError, match="boom failed on the MCP server demo"):
        tool_output("demo", "boom", silent)


async def test_the_tool_masks_secrets_in_what_the_model_reads() -> None:
    async def leaky(name: str, arguments: dict) -> CallToolResult:
        return CallToolResult(content=[TextContent(type="text", text="key=TOPSECRET-42")])

    tool = mcp_tool(
        listed(), "s", "docs", leaky, timeout=5, mask=lambda t: t.replace("TOPSECRET-42", "***")
    )
    output = await tool.function(query="x")
    assert output.text == "key=***"


def test_without_the_mcp_extra_the_error_says_how_to_install_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from llmgine.errors import ConfigurationError
    from llmgine.tools import MCPServer

    monkeypatch.setitem(sys.modules, "mcp", None)  # as if the SDK were not installed
    with pytest.raises(ConfigurationError, match=r'pip install -e "\.\[mcp\]"'):
        MCPServer.stdio("python", ["server.py"])
