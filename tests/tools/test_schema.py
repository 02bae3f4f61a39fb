"""build_tool: names, descriptions, JSON schemas, the arguments model, strictness."""

from __future__ import annotations

import dataclasses
import enum
import functools
from datetime import datetime
from typing import Annotated, Any, Literal, Optional

import pytest
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from typing_extensions import TypedDict

from llmgine.errors import ToolDefinitionError
from llmgine.tools import Tool, ToolOptions, build_tool, tool, validate_arguments
from llmgine.tools.schema import fits_openai_strict

OBJECT = {"type": "object", "additionalProperties": False}


def schema(properties: dict[str, Any], required: list[str], **extra: Any) -> dict[str, Any]:
    return {**OBJECT, "properties": properties, "required": required, **extra}


# -- module-level types (type hints are resolved from the module) ---------------------------


class Unit(enum.Enum):
    """A temperature unit."""

    CELSIUS = "celsius"
    FAHRENHEIT = "fahrenheit"


class Address(BaseModel):
    """A postal address."""

    street: str
    city: str
    zip_code: str | None = None


class Closed(BaseModel):
    model_config = ConfigDict(extra="forbid")

    x: int
    y: int


@dataclasses.dataclass
class Point:
    x: float
    y: float


class Filters(TypedDict):
    tag: str
    limit: int


# -- docstring styles -----------------------------------------------------------------------


def google_search(query: str, limit: int, ratio: float, exact: bool, lang: str = "en") -> str:
    """Search the documents.

    Looks through every indexed document.

    Args:
        query: Words to look for.
        limit: Most results to return.
        ratio: Minimum score, 0 to 1.
        exact: Match whole words only.
        lang: Language code.

    Returns:
        The matches, one per line.
    """
    return query


GOOGLE_SCHEMA = schema(
    {
        "query": {"type": "string", "description": "Words to look for."},
        "limit": {"type": "integer", "description": "Most results to return."},
        "ratio": {"type": "number", "description": "Minimum score, 0 to 1."},
        "exact": {"type": "boolean", "description": "Match whole words only."},
        "lang": {"type": "string", "description": "Language code.", "default": "en"},
    },
    ["query", "limit", "ratio", "exact"],
)


def test_google_docstring() -> None:
    built = build_tool(google_search)
    assert built.name == "google_search"
    assert built.description == "Search the documents.\n\nLooks through every indexed document."
    assert built.parameters == GOOGLE_SCHEMA
    assert built.is_async is False
    assert built.function is google_search
    assert built.options == ToolOptions()
    assert built.strict is False  # lang has a default


def numpy_weather(city: str, days: int = 1) -> str:
    """Get the forecast.

    Parameters
    ----------
    city : str
        City name.
    days : int, optional
        Days ahead.

    Returns
    -------
    str
        The forecast.
    """
    return city


def sphinx_weather(city: str, days: int = 1) -> str:
    """Get the forecast.

    :param city: City name.
    :param int days: Days ahead.
    :returns: The forecast.
    """
    return city


@pytest.mark.parametrize("fn", [numpy_weather, sphinx_weather])
def test_numpy_and_sphinx_docstrings(fn: Any) -> None:
    built = build_tool(fn)
    assert built.description == "Get the forecast."
    assert built.parameters == schema(
        {
            "city": {"type": "string", "description": "City name."},
            "days": {"type": "integer", "description": "Days ahead.", "default": 1},
        },
        ["city"],
    )


# -- types ----------------------------------------------------------------------------------


inspect_empty = object()


def one(annotation: Any, default: Any = inspect_empty) -> Tool:
    """A tool with one parameter ``value`` of the given annotation."""

    def fn(value):  # type: ignore[no-untyped-def]
        """Do it."""

    fn.__annotations__ = {"value": annotation}
    if default is not inspect_empty:
        fn.__defaults__ = (default,)
    return build_tool(fn)


@pytest.mark.parametrize(
    ("annotation", "default", "expected", "required"),
    [
        (
            Optional[list[str]],  # noqa: UP045 - the spelling under test
            None,
            {
                "anyOf": [{"type": "array", "items": {"type": "string"}}, {"type": "null"}],
                "default": None,
            },
            [],
        ),
        (
            list[int] | None,
            inspect_empty,
            {"anyOf": [{"type": "array", "items": {"type": "integer"}}, {"type": "null"}]},
            ["value"],
        ),
        (
            Literal["low", "high"],
            "low",
            {"type": "string", "enum": ["low", "high"], "default": "low"},
            [],
        ),
        (list[int], inspect_empty, {"type": "array", "items": {"type": "integer"}}, ["value"]),
        (
            dict[str, int],
            inspect_empty,
            {"type": "object", "additionalProperties": {"type": "integer"}},
            ["value"],
        ),
        (datetime, inspect_empty, {"type": "string", "format": "date-time"}, ["value"]),
        (Any, inspect_empty, {}, ["value"]),
    ],
    ids=["optional-list", "list-or-none", "literal", "list", "dict", "datetime", "any"],
)
def test_simple_types(annotation: Any, default: Any, expected: dict, required: list) -> None:
    assert one(annotation, default).parameters == schema({"value": expected}, required)


def test_enum() -> None:
    def convert(degrees: float, unit: Unit = Unit.CELSIUS) -> float:
        """Convert a temperature.

        Args:
            degrees: The temperature.
            unit: Unit to convert to.
        """
        return degrees

    built = build_tool(convert)
    assert built.parameters == schema(
        {
            "degrees": {"type": "number", "description": "The temperature."},
            "unit": {
                "type": "string",
                "enum": ["celsius", "fahrenheit"],
                "description": "Unit to convert to.",
                "default": "celsius",
            },
        },
        ["degrees"],
    )
    assert (
        validate_arguments(built, {"degrees": 1, "unit": "fahrenheit"})["unit"] is Unit.FAHRENHEIT
    )


def test_enum_without_description_stays_a_ref() -> None:
    assert one(Unit).parameters == schema(
        {"value": {"$ref": "#/$defs/Unit"}},
        ["value"],
        **{
            "$defs": {
                "Unit": {
                    "type": "string",
                    "enum": ["celsius", "fahrenheit"],
                    "description": "A temperature unit.",
                }
            }
        },
    )


def test_nested_pydantic_model() -> None:
    def ship(to: Address, express: bool) -> str:
        """Ship a parcel."""
        return to.city

    built = build_tool(ship)
    assert built.parameters == schema(
        {"to": {"$ref": "#/$defs/Address"}, "express": {"type": "boolean"}},
        ["to", "express"],
        **{
            "$defs": {
                "Address": {
                    "type": "object",
                    "description": "A postal address.",
                    "properties": {
                        "street": {"type": "string"},
                        "city": {"type": "string"},
                        "zip_code": {
                            "anyOf": [{"type": "string"}, {"type": "null"}],
                            "default": None,
                        },
                    },
                    "required": ["street", "city"],
                }
            }
        },
    )
    assert built.strict is False  # Address is open and has an optional field
    kwargs = validate_arguments(built, {"to": {"street": "1 Main St", "city": "X"}, "express": 1})
    assert kwargs == {"to": Address(street="1 Main St", city="X"), "express": True}


def test_described_nested_model_is_inlined() -> None:
    def draw(corner: Annotated[Closed, "Top-left corner."]) -> None:
        """Draw a box."""

    built = build_tool(draw)
    assert built.parameters == schema(
        {
            "corner": {
                "type": "object",
                "description": "Top-left corner.",
                "properties": {"x": {"type": "integer"}, "y": {"type": "integer"}},
                "required": ["x", "y"],
                "additionalProperties": False,
            }
        },
        ["corner"],
    )
    assert built.strict is True


def test_dataclass_and_typeddict() -> None:
    def plot(at: Point, filters: Filters) -> None:
        """Plot a point."""

    built = build_tool(plot)
    assert built.parameters == schema(
        {"at": {"$ref": "#/$defs/Point"}, "filters": {"$ref": "#/$defs/Filters"}},
        ["at", "filters"],
        **{
            "$defs": {
                "Point": {
                    "type": "object",
                    "properties": {"x": {"type": "number"}, "y": {"type": "number"}},
                    "required": ["x", "y"],
                    "additionalProperties": False,
                },
                "Filters": {
                    "type": "object",
                    "properties": {"tag": {"type": "string"}, "limit": {"type": "integer"}},
                    "required": ["tag", "limit"],
                    "additionalProperties": False,
                },
            }
        },
    )
    assert built.strict is True
    kwargs = validate_arguments(
        built, {"at": {"x": 1, "y": 2}, "filters": {"tag": "a", "limit": 3}}
    )
    assert kwargs == {"at": Point(1.0, 2.0), "filters": {"tag": "a", "limit": 3}}


class Tree(BaseModel):
    value: int
    children: list[Tree] = []


def test_recursive_model_keeps_its_ref() -> None:
    def walk(tree: Annotated[Tree, "The tree."]) -> None:
        """Walk a tree."""

    tree_schema = {
        "type": "object",
        "properties": {
            "value": {"type": "integer"},
            "children": {"type": "array", "items": {"$ref": "#/$defs/Tree"}, "default": []},
        },
        "required": ["value"],
    }
    assert build_tool(walk).parameters == schema(
        {"tree": {**tree_schema, "description": "The tree."}},
        ["tree"],
        **{"$defs": {"Tree": tree_schema}},
    )


# -- descriptions ---------------------------------------------------------------------------


def test_annotated_and_field_descriptions() -> None:
    def book(
        room: Annotated[str, "Room name."],
        people: Annotated[int, Field(description="Head count.", ge=1)],
        notes: str = Field("", description="Anything else."),
        floor: int = 0,
    ) -> None:
        """Book a room.

        Args:
            room: Overridden by the Annotated text.
            people: Overridden by the Field.
            floor: Floor number.
        """

    assert build_tool(book).parameters == schema(
        {
            "room": {"type": "string", "description": "Room name."},
            "people": {"type": "integer", "description": "Head count.", "minimum": 1},
            "notes": {"type": "string", "description": "Anything else.", "default": ""},
            "floor": {"type": "integer", "description": "Floor number.", "default": 0},
        },
        ["room", "people"],
    )


def test_parameter_without_description_is_fine() -> None:
    def ping(host: str) -> str:
        """Ping a host."""
        return host

    assert build_tool(ping).parameters == schema({"host": {"type": "string"}}, ["host"])


def test_missing_description_names_the_function() -> None:
    def nameless(x: int) -> int:
        return x

    with pytest.raises(ToolDefinitionError) as info:
        build_tool(nameless)
    message = str(info.value)
    assert "test_missing_description_names_the_function.<locals>.nameless" in message
    assert "add a docstring or pass @tool(description=...)" in message


def test_options_override_name_and_description() -> None:
    @tool(name="lookup", description="Look it up.", timeout=5)
    def nameless(x: int) -> int:
        return x

    built = build_tool(nameless)
    assert (built.name, built.description, built.options.timeout) == ("lookup", "Look it up.", 5)
    assert build_tool(functools.partial(nameless, x=1)).options == built.options
    other = build_tool(nameless, ToolOptions(description="Other."))
    assert (other.name, other.description, other.options.timeout) == ("nameless", "Other.", None)


def test_invalid_name() -> None:
    with pytest.raises(ToolDefinitionError, match="not a valid tool name"):
        build_tool(lambda: None, ToolOptions(description="x"))


# -- parameters -----------------------------------------------------------------------------


def test_unannotated_parameters() -> None:
    def legacy(text, count=3, ratio=0.5, flag=False, maybe=None):  # type: ignore[no-untyped-def]
        """Old code."""

    assert build_tool(legacy).parameters == schema(
        {
            "text": {"type": "string"},
            "count": {"type": "integer", "default": 3},
            "ratio": {"type": "number", "default": 0.5},
            "flag": {"type": "boolean", "default": False},
            "maybe": {"anyOf": [{"type": "string"}, {"type": "null"}], "default": None},
        },
        ["text"],
    )


def test_var_args_rejected_kwargs_skipped() -> None:
    def variadic(*items: str) -> None:
        """Variadic."""

    with pytest.raises(ToolDefinitionError, match=r"\*items .* use a list parameter"):
        build_tool(variadic)

    def open_ended(name: str, **extra: Any) -> None:
        """Open ended."""

    assert build_tool(open_ended).parameters == schema({"name": {"type": "string"}}, ["name"])


def test_positional_only_rejected() -> None:
    def positional(a: int, /) -> None:
        """Positional."""

    with pytest.raises(ToolDefinitionError, match="positional-only"):
        build_tool(positional)


def test_reserved_names_are_aliased() -> None:
    def reserved(json: str, schema: int, model_config: bool, _private: str = "") -> None:
        """Reserved names."""

    built = build_tool(reserved)
    assert built.parameters == schema(
        {
            "json": {"type": "string"},
            "schema": {"type": "integer"},
            "model_config": {"type": "boolean"},
            "_private": {"type": "string", "default": ""},
        },
        ["json", "schema", "model_config"],
    )
    arguments = {"json": "{}", "schema": "2", "model_config": True}
    assert validate_arguments(built, arguments) == {**arguments, "schema": 2, "_private": ""}


def test_a_property_named_title_is_kept() -> None:
    def publish(title: str) -> None:
        """Publish."""

    assert build_tool(publish).parameters == schema({"title": {"type": "string"}}, ["title"])


def test_no_parameters() -> None:
    def now() -> str:
        """The time."""
        return ""

    built = build_tool(now)
    assert built.parameters == schema({}, [])
    assert built.strict is True


def test_unresolvable_type_hint() -> None:
    def broken(x: NotDefinedAnywhere) -> None:  # type: ignore[name-defined]  # noqa: F821
        """Broken."""

    with pytest.raises(ToolDefinitionError, match="cannot resolve its type hints"):
        build_tool(broken)


def test_unsupported_type() -> None:
    class Opaque:
        pass

    def takes(x: Opaque) -> None:
        """Takes."""

    takes.__annotations__ = {"x": Opaque}
    with pytest.raises(ToolDefinitionError, match="takes"):
        build_tool(takes)


# -- arguments model ------------------------------------------------------------------------


def test_arguments_model_validates_and_coerces() -> None:
    model = build_tool(google_search).arguments_model
    assert model.__name__ == "google_search_arguments"
    values = model.model_validate({"query": "q", "limit": "3", "ratio": "0.5", "exact": "true"})
    assert (values.limit, values.ratio, values.exact, values.lang) == (3, 0.5, True, "en")
    with pytest.raises(ValidationError, match="extra_forbidden|Extra inputs"):
        model.model_validate({"query": "q", "limit": 1, "ratio": 0, "exact": False, "x": 1})
    with pytest.raises(ValidationError):
        model.model_validate({"query": "q", "limit": "many", "ratio": 0, "exact": False})


# -- callables ------------------------------------------------------------------------------


def test_async_function_method_partial_and_callable_object() -> None:
    async def fetch(url: str, retries: int) -> str:
        """Fetch a URL."""
        return url

    class Client:
        def get(self, path: str) -> str:
            """Get a path."""
            return path

        @classmethod
        def make(cls, name: str) -> str:
            """Make one."""
            return name

    class Adder:
        """Adds numbers."""

        async def __call__(self, a: int, b: int) -> int:
            return a + b

    flat = schema({"url": {"type": "string"}}, ["url"])
    partial = build_tool(functools.partial(fetch, retries=2))
    assert (partial.name, partial.description, partial.is_async) == ("fetch", "Fetch a URL.", True)
    assert partial.parameters == flat
    assert build_tool(fetch).is_async is True

    method = build_tool(Client().get)
    assert (method.name, method.is_async) == ("get", False)
    assert method.parameters == schema({"path": {"type": "string"}}, ["path"])
    assert build_tool(Client.make).parameters == schema({"name": {"type": "string"}}, ["name"])

    adder = build_tool(Adder())
    assert (adder.name, adder.description, adder.is_async) == ("Adder", "Adds numbers.", True)
    assert adder.parameters == schema(
        {"a": {"type": "integer"}, "b": {"type": "integer"}}, ["a", "b"]
    )

    with pytest.raises(ToolDefinitionError, match="register the bound method"):
        build_tool(Client.get)


# -- strict ---------------------------------------------------------------------------------


def test_strict_all_required_flat_tool() -> None:
    def flat(a: str, b: int, c: list[float], d: Literal["x", "y"], e: int | None) -> None:
        """Flat."""

    assert build_tool(flat).strict is True
    assert build_tool(google_search).strict is False


@pytest.mark.parametrize(
    ("node", "strict"),
    [
        ({"type": "string", "minLength": 1}, False),
        ({"type": "string", "format": "uri"}, False),
        ({"type": "string", "format": "date-time"}, True),
        ({"type": "object", "additionalProperties": {"type": "integer"}}, False),
        ({"type": "object", "properties": {}, "required": []}, False),
        ({}, False),
        ({"$ref": "#/$defs/X", "description": "d"}, False),
    ],
)
def test_fits_openai_strict(node: dict, strict: bool) -> None:
    assert fits_openai_strict(schema({"v": node}, ["v"])) is strict


@pytest.mark.parametrize(
    "root",
    [
        {**OBJECT, "properties": {}, "required": [], "anyOf": [{"type": "object"}]},
        {"anyOf": [schema({}, [])]},
        schema({"a": True}, ["a"]),  # a boolean subschema
        schema({"a": {"type": "array", "items": [{"type": "string"}]}}, ["a"]),  # tuple items
        {**OBJECT, "properties": {"a": {"type": "string"}}, "required": "a"},
    ],
)
def test_schemas_strict_mode_refuses_are_not_called_strict(root: dict) -> None:
    assert fits_openai_strict(root) is False


def test_a_tool_is_built_once_per_function_and_options() -> None:
    from llmgine.tools.definition import ToolOptions

    def lookup(city: str) -> str:
        """Look a city up.

        Args:
            city: The city.
        """
        return city

    first = build_tool(lookup)
    assert build_tool(lookup) is first
    renamed = build_tool(lookup, ToolOptions(name="find"))
    assert renamed is not first and renamed.name == "find"
    assert build_tool(lookup, ToolOptions(name="find")) is renamed
