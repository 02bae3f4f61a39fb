"""MCP tools as LLMgine tools (:class:`~llmgine.tools.Tool`), MCP results as tool outputs.

Nothing here imports the ``mcp`` SDK: listings and results are read by their
attributes (``name``, ``input_schema``, ``content``, ``is_error``...), so the
conversion is plain data work, and ``jsonschema`` is imported only when a
tool's arguments are first checked.
"""

from __future__ import annotations

import base64
import binascii
import copy
import hashlib
import json
import re
from collections.abc import Awaitable, Callable, Collection, Iterable, Mapping
from typing import TYPE_CHECKING, Any

from llmgine.errors import ToolCallError, ToolDefinitionError
from llmgine.tools.definition import Tool, ToolOptions
from llmgine.tools.execution import ArgumentsError
from llmgine.tools.result import ToolOutput
from llmgine.tools.schema import fits_openai_strict

if TYPE_CHECKING:
    from llmgine.tools.mcp.server import MCPServer

__all__ = [
    "CallMCPTool",
    "approval_needed",
    "mcp_tool",
    "normalized_schema",
    "schema_validator",
    "server_tools",
    "tool_names",
    "tool_output",
]

#: What the model's side calls: ``await call(original_name, arguments)``.
CallMCPTool = Callable[[str, dict[str, Any]], Awaitable[Any]]

_NOT_ALLOWED = re.compile(r"[^A-Za-z0-9_-]")
_MAX_NAME = 64


# -- names -------------------------------------------------------------------------


def tool_names(names: Iterable[str], prefix: str | None) -> dict[str, str]:
    """The name offered to models for each of a server's tool names.

    ``{prefix}_{name}`` (or the name alone), with every character providers
    reject (anything but letters, digits, ``_`` and ``-``) replaced by ``_``.
    A name cut to 64 characters, or one that sanitising made equal to
    another, ends in 6 hex digits of a hash of the original, so each stays
    unique and stable.
    """
    wanted = {name: f"{prefix}_{name}" if prefix else name for name in names}
    clean = {name: _NOT_ALLOWED.sub("_", raw) or "tool" for name, raw in wanted.items()}
    counts: dict[str, int] = {}
    for value in clean.values():
        counts[value] = counts.get(value, 0) + 1
    result = {}
    for name, value in clean.items():
        collides = counts[value] > 1 and value != wanted[name]
        if len(value) > _MAX_NAME or collides:
            digest = hashlib.sha256(wanted[name].encode()).hexdigest()[:6]
            value = f"{value[: _MAX_NAME - 7]}_{digest}"
        result[name] = value
    return result


# -- schemas -----------------------------------------------------------------------


def normalized_schema(schema: Any) -> dict[str, Any]:
    """A copy of an MCP tool's ``input_schema`` that every provider accepts.

    ``$schema`` is dropped; ``"type": "object"`` and ``"properties": {}`` are
    added when missing (tools without parameters often leave them out). The
    server's listing is never changed, and nothing is rewritten to force
    OpenAI's strict mode: a schema that does not fit it is sent non-strict.
    """
    out = copy.deepcopy(schema) if isinstance(schema, dict) else {}
    out.pop("$schema", None)
    out.setdefault("type", "object")
    if out.get("type") == "object":
        out.setdefault("properties", {})
    return out


_COMBINATORS = ("anyOf", "oneOf", "allOf")


def provider_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """``schema`` as the providers take it: no ``anyOf``/``oneOf``/``allOf`` at its root.

    Anthropic refuses a tool whose ``input_schema`` has them at the top level
    (many MCP servers' do), which would fail every turn. The branches'
    properties are merged into one object; a property is required when every
    branch of ``anyOf``/``oneOf``, or any of ``allOf``, requires it. Calls are
    still checked against the server's schema as it is.
    """
    if not any(key in schema for key in _COMBINATORS):
        return schema
    out = {key: value for key, value in schema.items() if key not in _COMBINATORS}
    properties = dict(out.get("properties") or {})
    required = list(out.get("required") or [])
    for key in _COMBINATORS:
        branches = [b for b in schema.get(key) or [] if isinstance(b, dict)]
        for branch in branches:
            for name, sub in (branch.get("properties") or {}).items():
                properties.setdefault(name, sub)
        wanted = [list(b.get("required") or []) for b in branches]
        if key == "allOf":
            names = [name for names in wanted for name in names]
        else:
            names = [n for n in (wanted[0] if wanted else []) if all(n in w for w in wanted)]
        required += [name for name in names if name not in required]
    out["type"] = "object"
    out["properties"] = properties
    if required:
        out["required"] = [name for name in required if name in properties]
    return out


def schema_validator(tool_name: str, schema: dict[str, Any]) -> Callable[..., dict[str, Any]]:
    """A validator of a call's arguments against ``schema`` (JSON Schema, 2020-12 by default).

    It returns the arguments as they are, or raises :class:`ArgumentsError`
    naming each bad argument, in the text ``@tool`` functions give. A schema
    that is itself invalid checks nothing (the server judges the call).
    """
    state: dict[str, Any] = {}

    def validate(arguments: dict[str, Any]) -> dict[str, Any]:
        if "validator" not in state:
            state["validator"] = _build_validator(schema)
        validator = state["validator"]
        if validator is None:
            return arguments
        errors = sorted(validator.iter_errors(arguments), key=lambda e: list(e.absolute_path))
        if not errors:
            return arguments
        problems: list[str] = []
        for error in errors:
            problems.extend(_problems(tool_name, error))
        expected = ", ".join(schema.get("properties", {})) or "no parameters"
        raise ArgumentsError(
            f"Error: invalid arguments for {tool_name}:\n"
            + "\n".join(problems)
            + f"\nIts parameters are: {expected}."
        )

    return validate


def _build_validator(schema: dict[str, Any]) -> Any:
    from jsonschema import Draft202012Validator  # type: ignore[import-untyped]
    from jsonschema.exceptions import SchemaError  # type: ignore[import-untyped]
    from jsonschema.validators import validator_for  # type: ignore[import-untyped]

    cls = validator_for(schema, default=Draft202012Validator)
    try:
        cls.check_schema(schema)
    except SchemaError:
        return None
    return cls(schema)


def _problems(tool_name: str, error: Any) -> list[str]:
    path = [str(part) for part in error.absolute_path]
    where = ".".join(path) or "(arguments)"
    instance = error.instance
    if error.validator == "required" and isinstance(instance, dict):
        missing = [n for n in error.validator_value if n not in instance]
        return [f"- {'.'.join([*path, n])}: required but missing" for n in missing]
    if error.validator == "additionalProperties" and isinstance(instance, dict):
        known = set(error.schema.get("properties", {}))
        extra = sorted(n for n in instance if n not in known)
        if extra:
            return [f"- {'.'.join([*path, n])}: not a parameter of {tool_name}" for n in extra]
    return [f"- {where}: {error.message}"]


# -- approval ----------------------------------------------------------------------


def approval_needed(
    name: str, annotations: Any, requires_approval: bool | Collection[str] | None
) -> bool:
    """Whether a call of the MCP tool ``name`` asks for approval first.

    ``requires_approval`` decides when given (True, False, or the server's
    tool names that need it); by default a tool the server annotates needs
    approval unless it says it is read-only or not destructive (the MCP
    spec's defaults: ``readOnlyHint`` false, ``destructiveHint`` true). A
    tool without annotations runs without asking (most servers give none).
    """
    if isinstance(requires_approval, bool):
        return requires_approval
    if requires_approval is not None:
        return name in requires_approval
    if annotations is None:
        return False
    destructive = getattr(annotations, "destructive_hint", None)
    read_only = getattr(annotations, "read_only_hint", None)
    return read_only is not True and destructive is not False


#: The image types sent to a model as images (Anthropic takes only these; the rest is a note).
_IMAGE_TYPES = frozenset({"image/jpeg", "image/png", "image/gif", "image/webp"})


# -- the tool ----------------------------------------------------------------------


def mcp_tool(
    listed: Any,
    offered_name: str,
    server_name: str,
    call: CallMCPTool,
    *,
    timeout: float,
    requires_approval: bool | Collection[str] | None = None,
    mask: Callable[[str], str] | None = None,
) -> Tool:
    """The :class:`Tool` for one tool of an MCP server's listing.

    Args:
        listed: The SDK's ``Tool`` (``name``, ``description``, ``input_schema``,
            ``annotations``).
        offered_name: Its name for models (see :func:`tool_names`).
        server_name: The server's name, shown by ``/tools`` and in errors.
        call: Runs the call on the server and returns its ``CallToolResult``.
        timeout: Seconds a call may take in all (the manager's limit).
        requires_approval: See :func:`approval_needed`.
        mask: Masks the server's secrets in what the model reads.
    """
    original = str(listed.name)
    checked = normalized_schema(getattr(listed, "input_schema", None))
    parameters = provider_schema(checked)
    description = (
        (getattr(listed, "description", None) or "").strip()
        or (getattr(listed, "title", None) or "").strip()
        or f"The {original} tool of the MCP server {server_name}."
    )

    async def run(**arguments: Any) -> ToolOutput:
        try:
            output = tool_output(server_name, original, await call(original, arguments))
        except ToolCallError as exc:
            raise ToolCallError(mask(str(exc)) if mask else str(exc)) from None
        return _masked(output, mask) if mask else output

    run.__name__ = offered_name
    run.__qualname__ = f"mcp:{server_name}:{original}"
    annotations = getattr(listed, "annotations", None)
    return Tool(
        name=offered_name,
        description=description,
        parameters=parameters,
        function=run,
        is_async=True,
        arguments_model=None,
        options=ToolOptions(
            name=offered_name,
            description=description,
            timeout=timeout,
            requires_approval=approval_needed(original, annotations, requires_approval),
        ),
        strict=fits_openai_strict(parameters),
        server=server_name,
        validator=schema_validator(offered_name, checked),  # the server's own rules
    )


def server_tools(
    server: MCPServer,
    listing: Iterable[Any],
    offered: Mapping[str, Tool],
    own: Collection[str] = (),
) -> list[Tool]:
    """The tools of a server's ``listing``, named for models, ready to offer.

    Args:
        server: The server they come from (prefix, timeout, approval, secrets).
        listing: Its SDK ``Tool`` objects.
        offered: The tools offered already, by name.
        own: Names in ``offered`` that are this server's (they are replaced).

    Raises:
        ToolDefinitionError: a tool would take the name of another tool; the
            message names both sources and suggests a prefix.
    """
    listed = list(listing)
    names = tool_names([str(t.name) for t in listed], server.prefix)
    for name in names.values():
        taken = offered.get(name)
        if taken is not None and name not in own:
            source = f"the MCP server {taken.server}" if taken.server else "a function"
            raise ToolDefinitionError(
                f"the MCP server {server.name} has a tool {name!r}, and so has {source}; "
                f"give the server a prefix: prefix={server.name!r} (in an --mcp-config "
                f'file: "prefix": "{server.name}")'
            )
    return [
        mcp_tool(
            tool,
            names[str(tool.name)],
            server.name,
            server.call_tool,
            # The server answers a hung call at its read timeout; the manager's
            # limit is a backstop that also leaves room to restart a lost server.
            timeout=server.timeout + server.connect_timeout,
            requires_approval=server.requires_approval,
            mask=server.mask,
        )
        for tool in listed
    ]


# -- results -----------------------------------------------------------------------


def tool_output(server_name: str, tool_name: str, result: Any) -> ToolOutput:
    """What the model reads for an MCP ``CallToolResult``.

    Text blocks are joined with newlines (a structured result without any is
    its JSON); ``value`` is the structured result's dict, else the text.
    Images become a ``[image/png, 1234 bytes]`` line in the text (which stays
    enough on its own) and an ``image_url`` part for
    providers that take images in tool results; audio, resources and links
    are described in the text.

    Raises:
        ToolCallError: the result has ``is_error``: its text, for the model.
    """
    texts: list[str] = []  # from text blocks
    notes: list[str] = []  # descriptions of the other blocks
    images: list[dict[str, Any]] = []
    for block in getattr(result, "content", None) or []:
        kind = getattr(block, "type", None)
        if kind == "text":
            texts.append(str(getattr(block, "text", "")))
        elif kind in ("image", "audio"):
            mime = getattr(block, "mime_type", None) or f"{kind}/*"
            data = str(getattr(block, "data", "") or "")
            notes.append(f"[{mime}, {_decoded_size(data)} bytes]")
            if kind == "image" and data and mime in _IMAGE_TYPES:  # what every provider takes
                url = f"data:{mime};base64,{data}"
                images.append({"type": "image_url", "image_url": {"url": url}})
        elif kind == "resource_link":
            label = getattr(block, "name", None)
            notes.append(f"[resource {getattr(block, 'uri', '')}{f' ({label})' if label else ''}]")
        elif kind == "resource":
            notes.append(_resource_text(getattr(block, "resource", None)))
        else:
            notes.append(f"[{kind} content]")
    structured = getattr(result, "structured_content", None)
    if getattr(result, "is_error", False):
        text = "\n".join(texts + notes).strip()
        if not text and structured is not None:
            text = json.dumps(structured, ensure_ascii=False, default=str)
        raise ToolCallError(_error_text(server_name, tool_name, text))
    if texts or structured is None:
        # A structured result's text blocks are its JSON too (or what the server
        # would have a model read instead): they stay what the model reads.
        text = "\n".join(texts + notes)
    else:
        text = "\n".join([json.dumps(structured, ensure_ascii=False, default=str), *notes])
    value: Any = structured if structured is not None else text
    parts = [{"type": "text", "text": text}, *images] if images else None
    return ToolOutput(text=text, parts=parts, value=value)


def _masked(output: ToolOutput, mask: Callable[[str], str]) -> ToolOutput:
    parts = output.parts
    if parts:
        parts = [
            {**p, "text": mask(p["text"])} if isinstance(p.get("text"), str) else p for p in parts
        ]
    return ToolOutput(text=mask(output.text), parts=parts, value=output.value)


def _error_text(server_name: str, tool_name: str, text: str) -> str:
    if not text:
        return f"Error: {tool_name} failed on the MCP server {server_name} (it gave no reason)."
    return text if text.lower().startswith("error") else f"Error: {text}"


def _decoded_size(data: str) -> int:
    try:
        return len(base64.b64decode(data, validate=False))
    except (binascii.Error, ValueError):
        return len(data)


def _resource_text(resource: Any) -> str:
    uri = getattr(resource, "uri", "")
    text = getattr(resource, "text", None)
    if isinstance(text, str):
        return text
    mime = getattr(resource, "mime_type", None) or "application/octet-stream"
    blob = str(getattr(resource, "blob", "") or "")
    return f"[resource {uri}: {mime}, {_decoded_size(blob)} bytes]"
