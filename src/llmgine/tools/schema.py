"""Turn a Python function into a :class:`~llmgine.tools.Tool`: name, description, JSON schema.

The schema comes from the signature and type hints, through a pydantic model
(``Tool.arguments_model``) that also validates and coerces the model's
arguments. Descriptions come from the docstring (Google, NumPy or Sphinx/reST,
parsed by ``docstring_parser``), from ``Annotated[T, "text"]`` and from
``Field(description=...)``.

Rules worth knowing:

* ``*args`` and positional-only parameters are rejected (arguments arrive by
  name); ``**kwargs`` is left out of the schema (the model cannot fill it, as
  unknown arguments are rejected).
* A parameter without annotation takes the type of a ``str``/``int``/``float``/
  ``bool`` default, and is a string otherwise (a schema without a type gives
  the model no guidance and some providers reject it).
* Nested models, dataclasses, TypedDicts and enums stay in ``$defs`` and are
  referred to with ``$ref``; a ``$ref`` carrying a description is inlined, as
  OpenAI's strict mode rejects ``$ref`` with sibling keywords.
"""

from __future__ import annotations

import copy
import functools
import inspect
import re
import sys
import typing
import weakref
from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Annotated, Any

from llmgine.errors import ToolDefinitionError
from llmgine.tools.definition import Tool, ToolOptions, tool_options
from llmgine.tools.loading import FILE_MODULE_PREFIX, display_path

if TYPE_CHECKING:
    from pydantic import BaseModel
    from pydantic.fields import FieldInfo

# pydantic and docstring_parser are imported where used: ``import llmgine`` stays light.

__all__ = ["build_tool", "fits_openai_strict", "validate_arguments"]

#: Names OpenAI and Anthropic accept for tools.
_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")

# Keywords whose value maps names to schemas / is a schema / is a list of schemas.
_SCHEMA_MAPS = ("properties", "$defs", "definitions", "patternProperties", "dependentSchemas")
_SCHEMA_VALUES = ("items", "additionalProperties", "not", "if", "then", "else", "contains")
_SCHEMA_LISTS = ("anyOf", "allOf", "oneOf", "prefixItems")

# What OpenAI's strict mode accepts (conservative: an unknown keyword means "not strict").
_STRICT_KEYWORDS = frozenset(
    {
        "type", "properties", "required", "additionalProperties", "items", "anyOf", "enum",
        "const", "description", "$ref", "$defs", "format", "pattern", "minimum", "maximum",
        "exclusiveMinimum", "exclusiveMaximum", "multipleOf", "minItems", "maxItems",
    }
)  # fmt: skip
_STRICT_FORMATS = frozenset(
    {"date-time", "time", "date", "duration", "email", "hostname", "ipv4", "ipv6", "uuid"}
)


# Built tools by function (and options): a schema takes a docstring parse, a
# pydantic model and a JSON schema (about 1.5 ms), and every engine that offers
# the same function would build it again. Weak: a forgotten function frees its tool.
_BUILT: weakref.WeakKeyDictionary[Any, dict[ToolOptions | None, Tool]] = weakref.WeakKeyDictionary()


def build_tool(fn: Callable[..., Any], options: ToolOptions | None = None) -> Tool:
    """The :class:`Tool` of a function, method, ``functools.partial`` or callable object.

    Built once per function and options: later calls return the same tool.

    Args:
        fn: The callable the model will call.
        options: Name, description and run options; default: what ``@tool``
            set on ``fn`` (or on the function of a partial), else defaults.

    Returns:
        The tool, with its JSON schema and its arguments model.

    Raises:
        ToolDefinitionError: ``fn`` has no description, an invalid name, a
            ``*args`` or positional-only parameter, or a type pydantic cannot
            turn into a schema. The message names ``fn`` and says how to fix it.
    """
    try:
        built = _BUILT.get(fn, {}).get(options)
    except TypeError:  # not weakly referenceable, or not hashable: built each time
        built = None
    if built is not None:
        return built
    tool = _build(fn, options)
    try:
        _BUILT.setdefault(fn, {})[options] = tool
    except TypeError:
        pass
    return tool


def _build(fn: Callable[..., Any], options: ToolOptions | None) -> Tool:
    target = _unwrap(fn)
    named = _named(fn)
    options = options or tool_options(fn) or tool_options(named) or ToolOptions()
    where = _qualified_name(named)

    name = options.name or getattr(named, "__name__", None) or type(named).__name__
    if not _NAME.match(name):
        raise ToolDefinitionError(
            f"{where}: {name!r} is not a valid tool name (1-64 letters, digits, '_' or '-'); "
            f"pass @tool(name=...)"
        )

    docstring = _parse_docstring(_docstring(fn, target))
    description = options.description or docstring.description
    if not description:
        raise ToolDefinitionError(
            f"{where} has no description for the model: add a docstring or pass "
            f"@tool(description=...)"
        )

    model = _arguments_model(fn, target, name, where, docstring.params)
    from pydantic import PydanticUserError

    try:
        parameters = _clean_schema(model.model_json_schema())
    except PydanticUserError as exc:
        raise ToolDefinitionError(f"{where}: cannot build the JSON schema: {exc}") from exc

    return Tool(
        name=name,
        description=description,
        parameters=parameters,
        function=fn,
        is_async=_is_async(fn),
        arguments_model=model,
        options=options,
        strict=fits_openai_strict(parameters),
    )


def validate_arguments(tool: Tool, arguments: Mapping[str, Any]) -> dict[str, Any]:
    """Validate a model's arguments and return the keyword arguments to call the tool with.

    Values are the validated ones (``"3"`` becomes ``3`` for an ``int``, a dict
    becomes the nested pydantic model); defaults are filled in.

    Args:
        tool: The tool being called.
        arguments: The arguments the model sent (parsed JSON).

    Raises:
        pydantic.ValidationError: The arguments do not fit the schema (unknown
            names included).
    """
    values = tool.arguments_model.model_validate(arguments)
    fields = type(values).model_fields
    return {info.alias or key: getattr(values, key) for key, info in fields.items()}


def fits_openai_strict(schema: Any) -> bool:
    """Whether a JSON schema meets OpenAI's strict-mode rules as it is.

    Every object must list all its properties in ``required`` and set
    ``additionalProperties: false``; every schema needs a type (or ``anyOf``,
    ``enum``, ``const``, ``$ref``); only supported keywords and formats appear.
    """
    if not isinstance(schema, dict) or schema.get("type") != "object":
        return False  # the root is an object, never anyOf/oneOf/allOf
    if {"anyOf", "oneOf", "allOf"} & set(schema):
        return False
    for node in _subschemas(schema):
        if not set(node) <= _STRICT_KEYWORDS or not _plain_children(node):
            return False
        if not ({"type", "anyOf", "enum", "const", "$ref"} & set(node)):
            return False
        if "$ref" in node and len(node) > 1:
            return False
        if "format" in node and node["format"] not in _STRICT_FORMATS:
            return False
        types = node.get("type")
        if types == "object" or (isinstance(types, list) and "object" in types):
            properties = node.get("properties", {})
            if node.get("additionalProperties") is not False:
                return False
            required = node.get("required", [])
            if not isinstance(required, list) or sorted(map(str, required)) != sorted(properties):
                return False
    return True


def _plain_children(node: dict[str, Any]) -> bool:
    """Whether every subschema of ``node`` is a schema object (no ``true``, no tuple ``items``)."""
    for key in _SCHEMA_MAPS:
        mapping = node.get(key)
        if mapping is not None and (
            not isinstance(mapping, dict) or not all(isinstance(v, dict) for v in mapping.values())
        ):
            return False
    for key in _SCHEMA_VALUES:
        if key == "additionalProperties" and isinstance(node.get(key), bool):
            continue  # strict mode wants it false
        if key in node and not isinstance(node[key], dict):
            return False
    for key in _SCHEMA_LISTS:
        if key in node and not (
            isinstance(node[key], list) and all(isinstance(v, dict) for v in node[key])
        ):
            return False
    return True


# -- the callable ---------------------------------------------------------------------------


def _unwrap(fn: Callable[..., Any]) -> Any:
    """The function behind partials, or the ``__call__`` of a callable object."""
    while isinstance(fn, functools.partial):
        fn = fn.func
    if inspect.isroutine(fn) or isinstance(fn, type):
        return fn
    return type(fn).__call__ if callable(fn) else fn


def _named(fn: Callable[..., Any]) -> Any:
    """What gives the tool its name: the function, or the class of a callable object."""
    while isinstance(fn, functools.partial):
        fn = fn.func
    return fn if inspect.isroutine(fn) or isinstance(fn, type) else type(fn)


def _qualified_name(target: Any) -> str:
    """How errors name a function: ``tools/nodoc.py: add`` for a file given by path."""
    qualname = getattr(target, "__qualname__", None) or repr(target)
    module = getattr(target, "__module__", None)
    if not module:
        return qualname
    file = getattr(sys.modules.get(module), "__file__", None)
    if file and module.startswith(FILE_MODULE_PREFIX):
        return f"{display_path(file)}: {qualname}"
    return f"{module}.{qualname}"


def _is_async(fn: Callable[..., Any]) -> bool:
    while isinstance(fn, functools.partial):
        fn = fn.func
    if inspect.iscoroutinefunction(fn):
        return True
    if inspect.isroutine(fn) or isinstance(fn, type):
        return False
    return callable(fn) and inspect.iscoroutinefunction(type(fn).__call__)


def _docstring(fn: Callable[..., Any], target: Any) -> str:
    """The docstring of the function, or of ``__call__`` then the class for callable objects."""
    doc = inspect.getdoc(target)
    if not doc and target is not fn and not isinstance(fn, functools.partial):
        doc = inspect.getdoc(type(fn))
    return doc or ""


class _Docstring(typing.NamedTuple):
    description: str
    params: dict[str, str]


def _parse_docstring(doc: str) -> _Docstring:
    """Summary (+ long description) and parameter descriptions, any common style."""
    if not doc.strip():
        return _Docstring("", {})
    import docstring_parser

    try:
        parsed = docstring_parser.parse(doc)
    except docstring_parser.ParseError:
        return _Docstring(doc.strip(), {})
    text = "\n\n".join(part for part in (parsed.short_description, parsed.long_description) if part)
    params = {p.arg_name: p.description for p in parsed.params if p.description}
    return _Docstring(text.strip(), params)


# -- the arguments model --------------------------------------------------------------------


def _arguments_model(
    fn: Callable[..., Any], target: Any, name: str, where: str, docs: dict[str, str]
) -> type[BaseModel]:
    try:
        signature = inspect.signature(fn)
    except (TypeError, ValueError) as exc:
        raise ToolDefinitionError(f"{where}: cannot read its signature: {exc}") from exc
    try:
        hints = typing.get_type_hints(target, include_extras=True)
    except Exception as exc:  # NameError for unresolved forward references, TypeError...
        raise ToolDefinitionError(
            f"{where}: cannot resolve its type hints ({exc}); define the types it uses at "
            f"module level"
        ) from exc
    from pydantic import ConfigDict, PydanticUserError, create_model

    bound_by_partial = fn.keywords if isinstance(fn, functools.partial) else {}

    fields: dict[str, Any] = {}
    for index, param in enumerate(signature.parameters.values()):
        if param.kind is param.VAR_KEYWORD or param.name in bound_by_partial:
            continue
        if param.kind is param.VAR_POSITIONAL:
            raise ToolDefinitionError(
                f"{where}: *{param.name} cannot be filled by a model (arguments arrive by "
                f"name); use a list parameter instead"
            )
        if param.kind is param.POSITIONAL_ONLY:
            raise ToolDefinitionError(
                f"{where}: parameter {param.name!r} is positional-only, but tools are called "
                f"with keyword arguments; remove the '/'"
            )
        if index == 0 and param.name in ("self", "cls") and _defined_in_class(target):
            raise ToolDefinitionError(
                f"{where}: register the bound method (instance.{getattr(target, '__name__', '')}"
                f"), not the function of the class"
            )
        annotation = hints.get(param.name, _unannotated_type(param))
        key = param.name if _usable_field_name(param.name) else f"arg{index}_{param.name}"
        fields[key] = _field(param, annotation, docs.get(param.name), alias=key != param.name)

    try:
        return create_model(
            f"{name}_arguments",
            __config__=ConfigDict(extra="forbid"),
            **fields,
        )
    except (PydanticUserError, TypeError, ValueError) as exc:
        raise ToolDefinitionError(f"{where}: cannot build a schema for it: {exc}") from exc


def _defined_in_class(target: Any) -> bool:
    parts = getattr(target, "__qualname__", "").split(".")
    return inspect.isfunction(target) and len(parts) > 1 and parts[-2] != "<locals>"


def _unannotated_type(param: inspect.Parameter) -> Any:
    """``str``, or the type of a simple default (``n=3`` is an ``int``)."""
    default = param.default
    if isinstance(default, bool | int | float | str):
        return type(default)
    if default is None:
        return str | None
    return str


def _usable_field_name(name: str) -> bool:
    """False for names pydantic reserves (``_x``, ``model_*``) or that shadow BaseModel."""
    from pydantic import BaseModel

    return not (name.startswith("_") or name.startswith("model_") or hasattr(BaseModel, name))


def _field(
    param: inspect.Parameter, annotation: Any, doc: str | None, *, alias: bool
) -> tuple[Any, FieldInfo]:
    """``(annotation, FieldInfo)`` for ``create_model``, with the best description found."""
    from pydantic import Field
    from pydantic.fields import FieldInfo

    metadata = annotation.__metadata__ if typing.get_origin(annotation) is Annotated else ()
    infos = [item for item in metadata if isinstance(item, FieldInfo)]
    default = param.default
    if isinstance(default, FieldInfo):
        infos.append(default)
    has_description = any(info.description for info in infos)
    text = next((item for item in metadata if isinstance(item, str)), None)
    description = None if has_description else (text or doc)

    extra: dict[str, Any] = {}
    if description:
        extra["description"] = description
    if alias:
        extra["alias"] = param.name
    if extra:
        annotation = Annotated[annotation, Field(**extra)]

    if isinstance(default, FieldInfo):
        return annotation, default
    if default is inspect.Parameter.empty:
        return annotation, Field()
    return annotation, Field(default)


# -- the JSON schema ------------------------------------------------------------------------


def _clean_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """Pydantic's schema without titles, with described ``$ref``s inlined, in a fixed order."""
    defs = schema.get("$defs", {})
    _strip(schema, defs)
    result: dict[str, Any] = {
        "type": "object",
        "properties": schema.get("properties", {}),
        "required": schema.get("required", []),
    }
    if "additionalProperties" in schema:
        result["additionalProperties"] = schema["additionalProperties"]
    used = _used_defs(result, defs)
    if used:
        result["$defs"] = {key: value for key, value in defs.items() if key in used}
    return result


def _strip(
    node: dict[str, Any], defs: dict[str, Any], inlining: frozenset[str] = frozenset()
) -> None:
    """Remove ``title`` keywords and inline ``$ref``s that have sibling keywords, in place.

    A recursive reference met again while it is being inlined stays a ``$ref``.
    """
    node.pop("title", None)
    ref = node.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/$defs/") and len(node) > 1:
        key = ref.removeprefix("#/$defs/")
        if isinstance(defs.get(key), dict) and key not in inlining:
            siblings = {name: value for name, value in node.items() if name != "$ref"}
            node.clear()
            node.update({**copy.deepcopy(defs[key]), **siblings})
            _strip(node, defs, inlining | {key})
            return
    for child in _children(node):
        _strip(child, defs, inlining)


def _children(node: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """The schemas directly inside a schema (not ``default``/``enum`` values)."""
    for key in _SCHEMA_MAPS:
        mapping = node.get(key)
        if isinstance(mapping, dict):
            yield from (value for value in mapping.values() if isinstance(value, dict))
    for key in _SCHEMA_VALUES:
        if isinstance(node.get(key), dict):
            yield node[key]
    for key in _SCHEMA_LISTS:
        if isinstance(node.get(key), list):
            yield from (value for value in node[key] if isinstance(value, dict))


def _subschemas(schema: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every schema node, the root and ``$defs`` included."""
    stack = [schema]
    while stack:
        node = stack.pop()
        yield node
        stack.extend(_children(node))


def _used_defs(root: dict[str, Any], defs: dict[str, Any]) -> set[str]:
    """Names of the ``$defs`` reachable from ``root`` through ``$ref``."""
    used: set[str] = set()
    pending = [root]
    while pending:
        for node in _subschemas(pending.pop()):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/$defs/"):
                key = ref.removeprefix("#/$defs/")
                if key not in used and key in defs:
                    used.add(key)
                    pending.append(defs[key])
    return used
