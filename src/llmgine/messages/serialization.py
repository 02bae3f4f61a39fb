"""Turning message field values into JSON and back.

:func:`to_jsonable` never fails: values JSON cannot carry (exceptions, clients,
arbitrary objects) become readable strings. :func:`restore_value` uses the
field's type hint (through a cached pydantic ``TypeAdapter``) to rebuild
datetimes, enums, dataclasses and pydantic models; when a value does not fit
its hint it is kept as it came, so a log line can always be loaded.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import enum
import types
import typing
import uuid
from collections.abc import Callable, Mapping
from decimal import Decimal
from pathlib import PurePath
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pydantic import TypeAdapter

__all__ = ["MESSAGE_TYPE_KEY", "exact_types", "restore_value", "to_jsonable", "type_adapter"]

#: Key naming a message's concrete class in its dict form ("module:QualName").
MESSAGE_TYPE_KEY = "message_type"

_PRIMITIVES = frozenset({str, int, float, bool, type(None)})
_MAX_DEPTH = 32


def _safe_repr(value: Any) -> str:
    try:
        return repr(value)
    except Exception:  # a broken __repr__ must not break logging
        return object.__repr__(value)


def to_jsonable(value: Any, _depth: int = 0) -> Any:
    """Convert ``value`` into something ``json.dumps`` accepts, without raising.

    Messages become their ``to_dict()``; datetimes ISO strings; enums their
    value; dataclasses and pydantic models dicts; sets lists; exceptions
    ``"TypeName: message"``; anything else its ``repr``.
    """
    cls = type(value)
    if cls in _PRIMITIVES:
        return value
    if _depth > _MAX_DEPTH:
        return _safe_repr(value)
    depth = _depth + 1
    if cls is dict or isinstance(value, Mapping):
        return {
            (k if type(k) is str else str(to_jsonable(k, depth))): to_jsonable(v, depth)
            for k, v in value.items()
        }
    if cls is list or cls is tuple or isinstance(value, list | tuple | set | frozenset):
        return [to_jsonable(v, depth) for v in value]
    to_dict = getattr(value, "to_dict", None)
    if to_dict is not None and hasattr(cls, "_message_type"):
        return to_dict()
    if isinstance(value, _dt.datetime | _dt.date | _dt.time):
        return value.isoformat()
    if isinstance(value, enum.Enum):
        return to_jsonable(value.value, depth)
    if isinstance(value, BaseException):
        return f"{type(value).__name__}: {value}"
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {
            f.name: to_jsonable(getattr(value, f.name, None), depth)
            for f in dataclasses.fields(value)
        }
    model_dump = getattr(value, "model_dump", None)
    if model_dump is not None and callable(model_dump):
        try:
            dumped = model_dump(mode="json")
        except Exception:
            return _safe_repr(value)
        # A look-alike (a mock, a proxy) may return something JSON cannot carry.
        if type(dumped) in _PRIMITIVES or type(dumped) in (dict, list):
            return dumped
        return _safe_repr(value)
    if isinstance(value, _dt.timedelta):
        return value.total_seconds()
    if isinstance(value, PurePath | uuid.UUID | Decimal):
        return str(value)
    if isinstance(value, bytes | bytearray):
        return value.decode("utf-8", errors="replace")
    if isinstance(value, type) or callable(value):
        module = getattr(value, "__module__", None)
        name = getattr(value, "__qualname__", None) or getattr(value, "__name__", None)
        if name:
            return f"{module}.{name}" if module else name
    return _safe_repr(value)


_ADAPTERS: dict[Any, TypeAdapter[Any] | None] = {}
#: Hints whose JSON value needs no validation: nested messages are revived and
#: the rest kept, which is what their adapter would give (a copy of the same values).
_PLAIN_CONTAINERS = frozenset({dict, list, dict[str, Any], dict[str, object], list[Any]})
_SCALARS: dict[Any, frozenset[type]] = {
    str: frozenset({str}),
    int: frozenset({int}),
    float: frozenset({float}),
    bool: frozenset({bool}),
    type(None): frozenset({type(None)}),
    None: frozenset({type(None)}),
}


def exact_types(hint: Any) -> frozenset[type]:
    """The types a JSON value of ``hint`` can have and be kept as it is (no validation).

    ``int`` for ``int``, ``str`` and ``NoneType`` for ``str | None``; empty when
    every value must go through the field's adapter (datetimes, enums, models).
    Their adapter would return such a value unchanged, so skipping it is only
    faster: decoding a message is on the path of every command between nodes.
    """
    try:
        scalar = _SCALARS.get(hint)
    except TypeError:  # unhashable hint
        return frozenset()
    if scalar is not None:
        return scalar
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        parts = [_SCALARS.get(arg) for arg in typing.get_args(hint)]
        if all(part is not None for part in parts):
            return frozenset().union(*parts)  # type: ignore[arg-type]
    return frozenset()


def type_adapter(hint: Any) -> TypeAdapter[Any] | None:
    """Return a cached pydantic ``TypeAdapter`` for ``hint``, or None if it has none.

    ``Any``/``object``/``str`` hints return None: there is nothing to rebuild.
    """
    if isinstance(hint, str):
        return None
    try:
        if hint in (Any, object, str) or hint in _PLAIN_CONTAINERS:
            return None
        return _ADAPTERS[hint]
    except KeyError:
        pass
    except TypeError:  # unhashable hint
        return None
    from pydantic import ConfigDict, TypeAdapter

    adapter: TypeAdapter[Any] | None
    try:
        adapter = TypeAdapter(hint, config=ConfigDict(arbitrary_types_allowed=True))
    except Exception:
        try:  # models and dataclasses carry their own config
            adapter = TypeAdapter(hint)
        except Exception:
            adapter = None
    _ADAPTERS[hint] = adapter
    return adapter


def restore_value(
    value: Any,
    adapter: TypeAdapter[Any] | None,
    revive_message: Callable[[dict[str, Any]], Any],
) -> Any:
    """Rebuild a field value from its JSON form.

    Nested message dicts (those carrying :data:`MESSAGE_TYPE_KEY`) are rebuilt
    into their concrete classes first; then the field's adapter, if any,
    validates the result. A value the adapter rejects is returned unchanged.
    """
    value = _revive_nested(value, revive_message)
    if adapter is None:
        return value
    try:
        return adapter.validate_python(value)
    except Exception:
        return value


def _revive_nested(value: Any, revive: Callable[[dict[str, Any]], Any]) -> Any:
    if isinstance(value, dict):
        if MESSAGE_TYPE_KEY in value:
            try:
                return revive(value)
            except Exception:
                return value
        return {k: _revive_nested(v, revive) for k, v in value.items()}
    if isinstance(value, list):
        return [_revive_nested(v, revive) for v in value]
    return value
