"""Deterministic values that satisfy a JSON schema (for offline models).

:func:`sample_value` builds, for the common subset of JSON Schema that pydantic
and tool signatures produce, a value that validates: ``TestModel`` uses it for
tool arguments and structured answers.
"""

from __future__ import annotations

import copy
import json
import math
import re
from typing import Any

__all__ = ["sample_value"]


def _preview(value: Any, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


_FORMATS = {
    "date-time": "2024-01-01T00:00:00Z",
    "date": "2024-01-01",
    "time": "00:00:00",
    "duration": "PT0S",
    "email": "a@example.com",
    "idn-email": "a@example.com",
    "uri": "https://example.com/",
    "iri": "https://example.com/",
    "url": "https://example.com/",
    "uri-reference": "https://example.com/",
    "hostname": "example.com",
    "ipv4": "192.0.2.1",
    "ipv6": "2001:db8::1",
    "ipvanyaddress": "192.0.2.1",
    "ipvanyinterface": "192.0.2.1/32",
    "ipvanynetwork": "192.0.2.0/24",
    "uuid": "12345678-1234-4234-9234-567812345678",
    "uuid1": "12345678-1234-1234-9234-567812345678",
    "uuid3": "12345678-1234-3234-9234-567812345678",
    "uuid4": "12345678-1234-4234-9234-567812345678",
    "uuid5": "12345678-1234-5234-9234-567812345678",
    "json-string": "null",
}

_CATEGORY_CHARS = {
    "CATEGORY_DIGIT": "0",
    "CATEGORY_NOT_DIGIT": "a",
    "CATEGORY_WORD": "a",
    "CATEGORY_NOT_WORD": "-",
    "CATEGORY_SPACE": " ",
    "CATEGORY_NOT_SPACE": "a",
}
_CATEGORY_PATTERNS = {
    "CATEGORY_DIGIT": r"\d",
    "CATEGORY_NOT_DIGIT": r"\D",
    "CATEGORY_WORD": r"\w",
    "CATEGORY_NOT_WORD": r"\W",
    "CATEGORY_SPACE": r"\s",
    "CATEGORY_NOT_SPACE": r"\S",
}


def _class_char(items: list[tuple[Any, Any]]) -> str:
    """A character in a regex character class (``[...]``)."""
    if items and str(items[0][0]) == "NEGATE":

        def matches(char: str) -> bool:
            for op, arg in items[1:]:
                name = str(op)
                if name == "LITERAL" and ord(char) == arg:
                    return True
                if name == "RANGE" and arg[0] <= ord(char) <= arg[1]:
                    return True
                if name == "CATEGORY" and re.match(_CATEGORY_PATTERNS[str(arg)], char):
                    return True
            return False

        return next(char for char in "a0A_-.x!~ " if not matches(char))
    op, arg = items[0]
    name = str(op)
    if name == "LITERAL":
        return chr(arg)
    if name == "RANGE":
        return chr(arg[0])
    if name == "CATEGORY":
        return _CATEGORY_CHARS[str(arg)]
    raise ValueError(name)


def _emit_regex(items: Any) -> str:
    out = []
    for op, arg in items:
        name = str(op)
        if name == "LITERAL":
            out.append(chr(arg))
        elif name == "NOT_LITERAL":
            out.append("a" if arg != ord("a") else "b")
        elif name == "ANY":
            out.append("a")
        elif name == "IN":
            out.append(_class_char(arg))
        elif name in ("MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT"):
            low, high, sub = arg
            out.append(_emit_regex(sub) * max(low, min(1, high)))
        elif name in ("SUBPATTERN", "ATOMIC_GROUP"):
            out.append(_emit_regex(arg[-1]))
        elif name == "BRANCH":
            out.append(_emit_regex(arg[1][0]))
        elif name in ("AT", "ASSERT", "ASSERT_NOT"):
            continue
        else:
            raise ValueError(name)
    return "".join(out)


def _string_for_regex(pattern: str) -> str | None:
    """A string matching a simple regex (classes, repeats, groups), or None."""
    try:
        from re import _parser  # type: ignore[attr-defined]

        return _emit_regex(_parser.parse(pattern))
    except Exception:  # an unsupported construct, or a Python without re._parser
        return None


# Past this depth, optional recursion stops (empty arrays, null options).
_SOFT_DEPTH = 8
# Past this depth the schema cannot be satisfied by a finite value we can find.
_HARD_DEPTH = 64


class _SchemaSampler:
    """Builds a deterministic value valid for a JSON schema (the common subset).

    Handles ``type`` (and type lists), ``const``, ``enum``, ``default``,
    ``$ref``/``$defs``, ``anyOf``/``oneOf`` (first non-null option), ``allOf``,
    string length and common formats, numeric bounds and ``multipleOf``,
    ``minItems``/``maxItems``/``prefixItems`` and required object properties.
    A ``pattern`` is matched for simple regexes (classes, repeats, groups,
    alternatives); others fall back to a few fixed candidates.
    """

    def __init__(self, root: Any, seed: int = 0) -> None:
        self.root = root
        self.seed = seed

    def sample(self) -> Any:
        return self._value(self.root, 0, 0)

    def _resolve_ref(self, ref: str) -> Any:
        if not ref.startswith("#"):
            raise ValueError(f"cannot follow the external $ref {ref!r}")
        node = self.root
        for raw in ref[1:].split("/"):
            if not raw:
                continue
            part = raw.replace("~1", "/").replace("~0", "~")
            try:
                node = node[int(part)] if isinstance(node, list) else node[part]
            except (KeyError, IndexError, ValueError, TypeError):
                raise ValueError(f"$ref {ref!r} points nowhere in the schema") from None
        return node

    @staticmethod
    def _is_null(schema: Any) -> bool:
        return isinstance(schema, dict) and (
            schema.get("type") == "null" or ("const" in schema and schema["const"] is None)
        )

    def _value(self, schema: Any, index: int, depth: int) -> Any:
        if depth > _HARD_DEPTH:
            raise ValueError("the schema nests too deeply (a required field that recurses?)")
        if schema is True or schema is None:
            schema = {}
        if schema is False:
            raise ValueError("no value matches the schema `false`")
        if not isinstance(schema, dict):
            raise ValueError(f"not a JSON schema: {_preview(schema)}")
        if "$ref" in schema:
            target = self._resolve_ref(schema["$ref"])
            siblings = {key: value for key, value in schema.items() if key != "$ref"}
            merged = {**target, **siblings} if isinstance(target, dict) else target
            return self._value(merged, index, depth + 1)
        if "const" in schema:
            return copy.deepcopy(schema["const"])
        if schema.get("enum"):
            options = schema["enum"]
            return copy.deepcopy(options[(self.seed + index) % len(options)])
        if "default" in schema and index == 0:
            return copy.deepcopy(schema["default"])
        for key in ("anyOf", "oneOf"):
            if schema.get(key):
                options = schema[key]
                others = [option for option in options if not self._is_null(option)]
                if not others or (depth > _SOFT_DEPTH and len(others) < len(options)):
                    return None
                siblings = {k: v for k, v in schema.items() if k not in ("anyOf", "oneOf")}
                chosen = others[0]
                if isinstance(chosen, dict) and siblings:
                    chosen = {**siblings, **chosen}
                return self._value(chosen, index, depth + 1)
        if schema.get("allOf"):
            return self._value(self._merge_all_of(schema), index, depth + 1)
        kind = schema.get("type")
        if isinstance(kind, list):
            kinds = [k for k in kind if k != "null"]
            kind = kinds[0] if kinds else "null"
        if kind is None:
            if "properties" in schema or "required" in schema:
                kind = "object"
            elif "items" in schema or "prefixItems" in schema:
                kind = "array"
            else:
                kind = "string"
        if kind == "null":
            return None
        if kind == "boolean":
            return (self.seed + index) % 2 == 1
        if kind == "integer":
            return self._integer(schema, index)
        if kind == "number":
            return self._number(schema, index)
        if kind == "string":
            return self._string(schema, index, depth)
        if kind == "array":
            return self._array(schema, depth)
        if kind == "object":
            return self._object(schema, index, depth)
        raise ValueError(f"unknown JSON schema type {kind!r}")

    def _merge_all_of(self, schema: dict[str, Any]) -> dict[str, Any]:
        merged: dict[str, Any] = {k: v for k, v in schema.items() if k != "allOf"}
        for part in schema["allOf"]:
            while isinstance(part, dict) and "$ref" in part:
                part = {
                    **self._resolve_ref(part["$ref"]),
                    **{k: v for k, v in part.items() if k != "$ref"},
                }
            if not isinstance(part, dict):
                continue
            for key, value in part.items():
                if key == "properties":
                    merged["properties"] = {**merged.get("properties", {}), **value}
                elif key == "required":
                    merged["required"] = [*merged.get("required", []), *value]
                else:
                    merged.setdefault(key, value)
        return merged

    @staticmethod
    def _bounds(schema: dict[str, Any], integer: bool) -> tuple[float | None, float | None]:
        low = schema.get("minimum")
        high = schema.get("maximum")
        exclusive_low = schema.get("exclusiveMinimum")
        exclusive_high = schema.get("exclusiveMaximum")
        step = 1 if integer else 1e-6
        if exclusive_low is True and low is not None:  # draft 4
            low = low + step
        elif isinstance(exclusive_low, int | float) and not isinstance(exclusive_low, bool):
            candidate = exclusive_low + step
            low = candidate if low is None else max(low, candidate)
        if exclusive_high is True and high is not None:
            high = high - step
        elif isinstance(exclusive_high, int | float) and not isinstance(exclusive_high, bool):
            candidate = exclusive_high - step
            high = candidate if high is None else min(high, candidate)
        return low, high

    def _integer(self, schema: dict[str, Any], index: int) -> int:
        low, high = self._bounds(schema, integer=True)
        low_int = math.ceil(low) if low is not None else None
        high_int = math.floor(high) if high is not None else None
        if low_int is not None:
            value = low_int
        elif high_int is not None and high_int < 0:
            value = high_int
        else:
            value = 0
        value += self.seed + index
        step = schema.get("multipleOf")
        if isinstance(step, int) and step > 0:
            value = math.ceil(value / step) * step
        if high_int is not None and value > high_int:
            value = high_int if low_int is None else max(low_int, high_int)
            if isinstance(step, int) and step > 0:
                value = math.floor(value / step) * step
        return value

    def _number(self, schema: dict[str, Any], index: int) -> float:
        low, high = self._bounds(schema, integer=False)
        exclusive_low = schema.get("exclusiveMinimum")
        if low is not None:
            value = float(low)
            if isinstance(exclusive_low, int | float) and not isinstance(exclusive_low, bool):
                # A whole step past an exclusive bound, or half way to the maximum.
                value = float(exclusive_low) + 1
                if high is not None and value > high:
                    value = (float(exclusive_low) + high) / 2
        elif high is not None and high < 0:
            value = float(high)
        else:
            value = 0.0
        value += self.seed + index
        step = schema.get("multipleOf")
        if isinstance(step, int | float) and step > 0:
            value = math.ceil(value / step) * step
        if high is not None and value > high:
            value = float(high) if low is None else max(float(low), float(high))
        return float(value)

    def _string(self, schema: dict[str, Any], index: int, depth: int) -> str:
        if "contentSchema" in schema and schema.get("contentMediaType") == "application/json":
            inner = self._value(schema["contentSchema"], index, depth + 1)
            return json.dumps(inner, ensure_ascii=False)
        fmt = schema.get("format")
        if fmt in _FORMATS:
            return _FORMATS[fmt]
        letter = chr(ord("a") + (self.seed + index) % 26)
        min_length = schema.get("minLength", 1)
        max_length = schema.get("maxLength")
        length = max(1, min_length)
        if max_length is not None:
            length = min(length, max_length)
        value = letter * length
        pattern = schema.get("pattern")
        if not pattern:
            return value

        def fits(candidate: str) -> bool:
            if len(candidate) < min_length:
                return False
            if max_length is not None and len(candidate) > max_length:
                return False
            try:
                return re.search(pattern, candidate) is not None
            except re.error:
                return False

        candidates = [value, _string_for_regex(pattern)]
        for size in range(length, length + 8):
            candidates += [char * size for char in "aA0_-"]
        return next((c for c in candidates if c is not None and fits(c)), value)

    def _array(self, schema: dict[str, Any], depth: int) -> list[Any]:
        prefix = schema.get("prefixItems") or []
        items = schema.get("items", {})
        if isinstance(items, list):  # draft 4 tuples
            prefix, items = items, schema.get("additionalItems", {})
        min_items = schema.get("minItems")
        max_items = schema.get("maxItems")
        if min_items is not None:
            count = min_items
        elif depth > _SOFT_DEPTH or items is False:
            count = 0
        else:
            count = 1
        count = max(count, len(prefix))
        if max_items is not None:
            count = min(count, max_items)
        values = []
        for position in range(count):
            item = prefix[position] if position < len(prefix) else items
            values.append(self._value(item, position, depth + 1))
        return values

    def _object(self, schema: dict[str, Any], index: int, depth: int) -> dict[str, Any]:
        properties = schema.get("properties") or {}
        extra = schema.get("additionalProperties", {})
        if not isinstance(extra, dict):
            extra = {}
        names = list(schema.get("required") or [])
        minimum = schema.get("minProperties", 0)
        for name in properties:
            if len(names) >= minimum:
                break
            if name not in names:
                names.append(name)
        result: dict[str, Any] = {}
        for name in names:
            result[name] = self._value(properties.get(name, extra), index, depth + 1)
        return result


def sample_value(schema: Any, seed: int = 0) -> Any:
    """A value valid for ``schema``; a different ``seed`` gives different values."""
    return _SchemaSampler(schema, seed).sample()
