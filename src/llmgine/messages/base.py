"""The machinery every message shares: dataclass set-up, registry, dict round trip.

Subclasses become dataclasses automatically, so both of these work::

    class Ping(Command):
        text: str = ""

    @dataclass
    class Ping(Command):
        text: str = ""

Framework fields (ids, timestamp, session, metadata, trace) are keyword-only,
so a subclass's own fields are the positional ones: ``Ping("hello")``.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import sys
import typing
from typing import Any, ClassVar, Self

from llmgine.errors import SerializationError
from llmgine.messages.serialization import (
    MESSAGE_TYPE_KEY,
    exact_types,
    restore_value,
    to_jsonable,
    type_adapter,
)
from llmgine.messages.trace import current_message

__all__ = ["ROOT", "GLOBAL", "Message", "message_class", "utcnow"]

#: Session id of messages and handlers that belong to no particular session.
ROOT = "ROOT"
#: Session id of handlers that see the events of every session.
GLOBAL = "GLOBAL"

_REGISTRY: dict[str, type[Message]] = {}
_PRIMITIVES = frozenset({str, int, float, bool, type(None)})
_CTOR_NAMES = frozenset({"__init__", "__post_init__"})
_UTC = _dt.UTC


def utcnow() -> _dt.datetime:
    """Return the current time as a timezone-aware UTC datetime."""
    return _dt.datetime.now(_UTC)


def _keep_factory_defaults(cls: type) -> None:
    # dataclass() deletes class attributes of default_factory fields; a second
    # @dataclass on the same class (the user's own decorator) would then see a
    # field without default. Putting the Field objects back makes it idempotent.
    own = cls.__dict__.get("__annotations__", {})
    for f in dataclasses.fields(cls):
        if f.name in own and f.default_factory is not dataclasses.MISSING:
            setattr(cls, f.name, f)


def emit_site(message: object, depth: int = 2) -> str:
    """Return ``"module.function:line"`` of the code that created ``message``.

    Frames of the message's own constructors (the generated ``__init__`` and
    any ``__post_init__``/``__init__`` in the class chain) are skipped.
    ``sys._getframe`` is used instead of ``inspect``: it is far cheaper, and
    this runs for every message.
    """
    frame = sys._getframe(depth)
    code = frame.f_code
    while code.co_name in _CTOR_NAMES and (
        code.co_filename == "<string>" or frame.f_locals.get("self") is message
    ):
        frame = frame.f_back  # type: ignore[assignment]
        if frame is None:
            return "unknown"
        code = frame.f_code
    return _site(frame, code)


# (id(code), instruction offset) -> (code, "module.function:line"). Code objects
# hash their whole contents, so they are looked up by id and checked by identity;
# f_lasti is free where f_lineno decodes the line table.
_SITES: dict[tuple[int, int], tuple[Any, str]] = {}


def _site(frame: Any, code: Any) -> str:
    key = (id(code), frame.f_lasti)
    entry = _SITES.get(key)
    if entry is not None and entry[0] is code:
        return entry[1]
    site = f"{frame.f_globals.get('__name__', '?')}.{code.co_name}:{frame.f_lineno}"
    if len(_SITES) > 50_000:
        _SITES.clear()
    _SITES[key] = (code, site)
    return site


def frame_site(frame: Any) -> str:
    """Return ``"module.function:line"`` for a frame (cached per code location)."""
    return _site(frame, frame.f_code)


def message_class(name: str) -> type[Message]:
    """Return the message class registered under ``name`` ("module:QualName").

    Only classes already defined in this process are known: every message
    class registers itself when it is defined. A name that is not registered
    is an error, never an import, so a log line or a message from another
    process cannot make this process import (and run) code it names.

    Raises:
        SerializationError: no class of that name is defined (the message says
            which module to import first).
    """
    cls = _REGISTRY.get(name)
    if cls is None:
        module = name.partition(":")[0] or "?"
        raise SerializationError(
            f"unknown message type {name!r}: no such message class is defined in this "
            f"process; import its module ({module}) before loading messages of it"
        )
    return cls


@typing.dataclass_transform(field_specifiers=(dataclasses.field, dataclasses.Field))
class Message:
    """Base of :class:`~llmgine.messages.Command` and :class:`~llmgine.messages.Event`.

    Every subclass becomes a dataclass when it is defined (``kw_only=True`` as a
    class keyword makes its own fields keyword-only); ``dataclass_transform``
    tells type checkers so, so they check the generated ``__init__``.
    """

    _message_type: ClassVar[str] = "llmgine.messages.base:Message"
    _serial_fields: ClassVar[tuple[str, ...] | None] = None
    _restore_plan: ClassVar[dict[str, tuple[Any, frozenset[type]]] | None] = None

    def __init_subclass__(cls, *, kw_only: bool = False, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        dataclasses.dataclass(cls, kw_only=kw_only)
        _keep_factory_defaults(cls)
        cls._message_type = f"{cls.__module__}:{cls.__qualname__}"
        cls._serial_fields = None
        cls._restore_plan = None
        _REGISTRY[cls._message_type] = cls

    @property
    def message_id(self) -> str:
        """This message's id (``command_id`` or ``event_id``)."""
        raise NotImplementedError

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-compatible dict of every field, naming the concrete class.

        Values JSON cannot carry become readable strings; this never raises.
        """
        cls = type(self)
        names = cls.__dict__.get("_serial_fields")
        if names is None:
            names = tuple(f.name for f in dataclasses.fields(self))  # type: ignore[arg-type]
            cls._serial_fields = names
        out: dict[str, Any] = {MESSAGE_TYPE_KEY: cls._message_type}
        for name in names:
            value = getattr(self, name, None)
            out[name] = value if type(value) in _PRIMITIVES else to_jsonable(value)
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Self:
        """Rebuild a message from :meth:`to_dict` output, as its concrete class.

        ``Event.from_dict(d)`` returns an instance of the subclass named in
        ``d``; field values are rebuilt from their type hints (datetimes,
        enums, nested dataclasses, pydantic models and messages). Keys that are
        not fields (such as a log line's ``event_type``) are ignored.

        Raises:
            SerializationError: the named class is unknown or not a ``cls``.
        """
        if not isinstance(data, dict):
            raise SerializationError(f"expected a dict, got {type(data).__name__}")
        name = data.get(MESSAGE_TYPE_KEY)
        target: type[Message] = message_class(name) if name else cls
        if not issubclass(target, cls):
            raise SerializationError(f"{name!r} is not a {cls.__name__}")
        plan = target.__dict__.get("_restore_plan")
        if plan is None:
            plan = _restore_plan_for(target)
            target._restore_plan = plan
        kwargs: dict[str, Any] = {}
        for field_name, (adapter, exact) in plan.items():
            if field_name in data:
                value = data[field_name]
                kwargs[field_name] = (
                    value
                    if type(value) in exact
                    else restore_value(value, adapter, Message.from_dict)
                )
        try:
            return target(**kwargs)
        except TypeError as exc:
            raise SerializationError(f"cannot rebuild {name or cls.__name__}: {exc}") from exc


def _restore_plan_for(cls: type[Message]) -> dict[str, tuple[Any, frozenset[type]]]:
    """Per field: its adapter, and the value types kept as they are."""
    try:
        hints = typing.get_type_hints(cls)
    except Exception:  # unresolvable forward references: use what is resolved
        hints = _resolvable_hints(cls)
    plan: dict[str, tuple[Any, frozenset[type]]] = {}
    for f in dataclasses.fields(cls):  # type: ignore[arg-type]
        if not f.init:
            continue
        hint = hints.get(f.name, f.type)
        plan[f.name] = (type_adapter(hint), exact_types(hint))
    return plan


def _resolvable_hints(cls: type) -> dict[str, Any]:
    # get_type_hints gives up on the whole class when one hint cannot be
    # resolved (say a type local to the function that defined the class);
    # resolve the others one by one, the way it would have.
    hints: dict[str, Any] = {}
    for klass in reversed(cls.__mro__):
        annotations = klass.__dict__.get("__annotations__", {})
        if not annotations:
            continue
        module = sys.modules.get(klass.__module__)
        globalns = dict(getattr(module, "__dict__", {}))
        localns = dict(vars(klass))
        for name, hint in annotations.items():
            if isinstance(hint, str):
                try:
                    hint = eval(hint, globalns, localns)  # what get_type_hints does
                except Exception:
                    hints.pop(name, None)
                    continue
            hints[name] = hint
    return hints


def stamp(message: Any, message_id: str) -> None:
    """Fill a new message's session default, trace fields and emit site."""
    if message.session_id is None:
        message.session_id = ROOT
    current = current_message.get()
    if current is None:
        if message.trace_id is None:
            message.trace_id = message_id
    else:
        if message.parent_id is None:
            message.parent_id = current[0]
        if message.trace_id is None:
            message.trace_id = current[1]
    metadata = message.metadata
    if "emitted_from" not in metadata:
        metadata["emitted_from"] = emit_site(message, 3)
