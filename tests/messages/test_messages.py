"""Messages: declaration styles, framework fields, trace stamping, dict round trip."""

import datetime as dt
import enum
import importlib
import importlib.util
import json
import re
import sys
import threading
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any
from unittest.mock import MagicMock

import pydantic
import pytest

from llmgine.errors import LLMgineError, SerializationError
from llmgine.messages import (
    Command,
    CommandResult,
    CommandResultEvent,
    CommandStartedEvent,
    Event,
    EventHandlerFailedEvent,
    Message,
    message_class,
)
from llmgine.messages.serialization import exact_types
from llmgine.messages.trace import current_message

_ID = re.compile(r"^[0-9a-f]{32}$")


def _here() -> tuple[str, int]:
    """Return (function name, line) of the caller."""
    frame = sys._getframe(1)
    return frame.f_code.co_name, frame.f_lineno


def _load_helper(name: str) -> ModuleType:
    """Import a helper module that sits next to this file, whatever the import mode."""
    module = sys.modules.get(name)
    if module is not None:
        return module
    spec = importlib.util.spec_from_file_location(name, Path(__file__).with_name(f"{name}.py"))
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def _json_round_trip(message: Message) -> dict[str, Any]:
    return json.loads(json.dumps(message.to_dict()))


# -- message classes --------------------------------------------------------


class Ping(Command):
    text: str = ""


@dataclass
class DecoratedPing(Command):
    text: str = ""


@dataclass
class Order(Command):
    item: str
    quantity: int = 1
    tags: list[str] = field(default_factory=list)
    options: dict[str, int] = field(default_factory=dict)


class PlainOrder(Command):
    item: str
    tags: list[str] = field(default_factory=list)


class Pong(Event):
    text: str = ""


@dataclass
class DecoratedPong(Event):
    text: str = ""
    seen: list[int] = field(default_factory=list)


class Shouting(Event):
    text: str = ""

    def __post_init__(self) -> None:
        self.text = self.text.upper()
        super().__post_init__()


class Color(enum.Enum):
    RED = "red"
    BLUE = "blue"


@dataclass
class Address:
    street: str
    number: int
    since: dt.datetime | None = None


class Profile(pydantic.BaseModel):
    name: str
    scores: list[int]
    created: dt.datetime


class Rich(Event):
    when: dt.datetime | None = None
    color: Color = Color.RED
    address: Address | None = None
    profile: Profile | None = None
    numbers: list[int] = field(default_factory=list)
    mapping: dict[str, Any] = field(default_factory=dict)
    ratio: float = 0.0
    flag: bool = False


class Anything(Event):
    value: Any = None


class BrokenRepr:
    def __repr__(self) -> str:
        raise RuntimeError("repr is broken")


# -- declaration ------------------------------------------------------------


@pytest.mark.parametrize("cls", [Ping, DecoratedPing, Pong, DecoratedPong])
def test_both_declaration_styles_take_their_own_field_positionally(cls: type[Message]) -> None:
    message = cls("hi")  # type: ignore[call-arg]
    assert message.text == "hi"  # type: ignore[attr-defined]
    assert cls().text == ""  # type: ignore[attr-defined]
    assert cls(text="kw").text == "kw"  # type: ignore[call-arg,attr-defined]
    # the framework fields stay keyword-only
    with pytest.raises(TypeError):
        cls("hi", [], "extra")  # type: ignore[call-arg]


def test_decorated_class_with_required_field_and_default_factory() -> None:
    first = Order("tea")
    second = Order("coffee", 3, ["hot"])
    assert (first.item, first.quantity, first.tags, first.options) == ("tea", 1, [], {})
    assert (second.item, second.quantity, second.tags) == ("coffee", 3, ["hot"])
    # each instance gets its own list/dict from the factory
    first.tags.append("x")
    first.options["a"] = 1
    assert Order("milk").tags == []
    assert Order("milk").options == {}
    with pytest.raises(TypeError):
        Order()  # type: ignore[call-arg]


def test_undecorated_class_with_required_field_and_default_factory() -> None:
    order = PlainOrder("tea")
    assert order.item == "tea" and order.tags == []
    order.tags.append("x")
    assert PlainOrder("tea").tags == []
    with pytest.raises(TypeError):
        PlainOrder()  # type: ignore[call-arg]


def test_subclass_of_decorated_subclass_keeps_factories() -> None:
    @dataclass
    class Bigger(Order):
        notes: list[str] = field(default_factory=list)

    bigger = Bigger("tea")
    assert (bigger.item, bigger.quantity, bigger.tags, bigger.notes) == ("tea", 1, [], [])
    assert bigger.command_id and bigger.metadata["emitted_from"]


# -- framework fields -------------------------------------------------------


def test_framework_fields_of_a_top_level_command() -> None:
    before = dt.datetime.now(dt.UTC)
    ping = Ping("x")
    after = dt.datetime.now(dt.UTC)

    assert _ID.match(ping.command_id)
    assert ping.message_id == ping.command_id
    assert ping.timestamp.tzinfo is not None
    assert ping.timestamp.utcoffset() == dt.timedelta(0)
    assert before <= ping.timestamp <= after
    assert ping.session_id == "ROOT"
    assert ping.parent_id is None
    assert ping.trace_id == ping.command_id


def test_framework_fields_of_a_top_level_event() -> None:
    before = dt.datetime.now(dt.UTC)
    pong = Pong("x")
    after = dt.datetime.now(dt.UTC)

    assert _ID.match(pong.event_id)
    assert pong.message_id == pong.event_id
    assert pong.timestamp.utcoffset() == dt.timedelta(0)
    assert before <= pong.timestamp <= after
    assert pong.session_id == "ROOT"
    assert pong.parent_id is None
    assert pong.trace_id == pong.event_id


def test_ids_are_unique_across_commands_and_events() -> None:
    ids = [Ping().command_id for _ in range(500)] + [Pong().event_id for _ in range(500)]
    ids += [DecoratedPing().command_id, DecoratedPong().event_id]
    assert len(set(ids)) == len(ids)
    assert all(_ID.match(i) for i in ids)


def test_explicit_session_and_trace_fields_are_kept() -> None:
    ping = Ping("x", session_id="S1", parent_id="parent", trace_id="trace")
    assert (ping.session_id, ping.parent_id, ping.trace_id) == ("S1", "parent", "trace")
    assert Pong(session_id=None).session_id == "ROOT"  # type: ignore[arg-type]


def test_emitted_from_names_the_creating_function_and_line() -> None:
    (ping, (name, line)) = Ping("x"), _here()
    assert ping.metadata["emitted_from"] == f"{__name__}.{name}:{line}"
    assert name == "test_emitted_from_names_the_creating_function_and_line"

    (pong, (name, line)) = DecoratedPong("y"), _here()
    assert pong.metadata["emitted_from"] == f"{__name__}.{name}:{line}"


def test_emitted_from_names_a_helper_that_creates_the_message() -> None:
    def build_the_event() -> Pong:
        return Pong("made elsewhere")

    assert build_the_event().metadata["emitted_from"].startswith(f"{__name__}.build_the_event:")


def test_own_post_init_still_reports_the_creator() -> None:
    def shout_creator() -> Shouting:
        return Shouting("hello")

    shout = shout_creator()
    assert shout.text == "HELLO"  # the subclass's own __post_init__ ran
    site = shout.metadata["emitted_from"]
    assert site.startswith(f"{__name__}.shout_creator:"), site
    assert "__post_init__" not in site
    assert shout.trace_id == shout.event_id


def test_given_emitted_from_is_not_overwritten() -> None:
    pong = Pong(metadata={"emitted_from": "somewhere.else:1", "k": "v"})
    assert pong.metadata == {"emitted_from": "somewhere.else:1", "k": "v"}


def test_messages_inside_a_current_message_context_link_to_it() -> None:
    token = current_message.set(("p", "t", "S"))
    try:
        ping = Ping("child")
        pong = DecoratedPong("child")
        shout = Shouting("child")
        explicit = Pong(parent_id="own-parent", trace_id="own-trace")
    finally:
        current_message.reset(token)
    for message in (ping, pong, shout):
        assert message.parent_id == "p"
        assert message.trace_id == "t"
    assert (explicit.parent_id, explicit.trace_id) == ("own-parent", "own-trace")

    after = Pong("after")
    assert after.parent_id is None and after.trace_id == after.event_id


async def test_messages_created_in_a_handler_link_to_the_handled_event(bus: Any) -> None:
    created: list[Pong] = []

    async def on_ping_event(event: DecoratedPong) -> None:
        child = Pong("child")
        created.append(child)
        await bus.publish(child)

    bus.register_event_handler(DecoratedPong, on_ping_event)
    outer = DecoratedPong("outer")
    await bus.publish(outer)

    assert len(created) == 1
    assert created[0].parent_id == outer.event_id
    assert created[0].trace_id == outer.trace_id == outer.event_id


# -- to_dict ----------------------------------------------------------------


def test_to_dict_is_json_and_names_the_concrete_type() -> None:
    order = Order("tea", 2, ["hot"], session_id="S9")
    data = order.to_dict()
    json.dumps(data)  # plain JSON
    assert data["message_type"] == f"{__name__}:Order"
    assert data["item"] == "tea" and data["quantity"] == 2 and data["tags"] == ["hot"]
    assert data["command_id"] == order.command_id
    assert data["session_id"] == "S9"
    assert data["trace_id"] == order.command_id and data["parent_id"] is None
    assert dt.datetime.fromisoformat(data["timestamp"]) == order.timestamp
    assert data["metadata"]["emitted_from"] == order.metadata["emitted_from"]


def test_to_dict_of_rich_values_is_json() -> None:
    rich = Rich(
        when=dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=dt.UTC),
        color=Color.BLUE,
        address=Address("Main St", 5),
        profile=Profile(name="ann", scores=[1, 2], created=dt.datetime(2023, 1, 1, tzinfo=dt.UTC)),
        numbers=[1, 2, 3],
        mapping={"a": (1, 2), "b": frozenset({3})},
    )
    data = json.loads(json.dumps(rich.to_dict()))
    assert data["when"] == "2024-01-02T03:04:05+00:00"
    assert data["color"] == "blue"
    assert data["address"] == {"street": "Main St", "number": 5, "since": None}
    assert data["profile"]["name"] == "ann" and data["profile"]["scores"] == [1, 2]
    assert data["mapping"] == {"a": [1, 2], "b": [3]}


# -- from_dict --------------------------------------------------------------


def test_from_dict_returns_the_concrete_subclass() -> None:
    ping = Ping("hi", session_id="S1")
    pong = Pong("ho")
    for base in (Command, Message, Ping):
        restored = base.from_dict(_json_round_trip(ping))
        assert type(restored) is Ping
        assert restored == ping
    for base in (Event, Message, Pong):
        restored = base.from_dict(_json_round_trip(pong))
        assert type(restored) is Pong
        assert restored == pong


def test_from_dict_ignores_keys_that_are_not_fields() -> None:
    data = _json_round_trip(Pong("x"))
    data["event_type"] = "Pong"
    data["something_else"] = 1
    restored = Event.from_dict(data)
    assert type(restored) is Pong and restored.text == "x"


def test_round_trip_of_rich_values() -> None:
    rich = Rich(
        when=dt.datetime(2024, 1, 2, 3, 4, 5, 600, tzinfo=dt.UTC),
        color=Color.BLUE,
        address=Address("Main St", 5, since=dt.datetime(2020, 2, 2, tzinfo=dt.UTC)),
        profile=Profile(name="ann", scores=[1, 2], created=dt.datetime(2023, 1, 1, tzinfo=dt.UTC)),
        numbers=[1, 2, 3],
        mapping={"nested": {"list": [1, "two", None]}, "n": 1.5},
        ratio=0.25,
        flag=True,
        session_id="S2",
        metadata={"custom": ["x"]},
    )
    restored = Event.from_dict(_json_round_trip(rich))

    assert type(restored) is Rich
    assert restored.when == rich.when and isinstance(restored.when, dt.datetime)
    assert restored.color is Color.BLUE
    assert type(restored.address) is Address and restored.address == rich.address
    assert isinstance(restored.address.since, dt.datetime)
    assert type(restored.profile) is Profile and restored.profile == rich.profile
    assert restored.numbers == [1, 2, 3]
    assert restored.mapping == rich.mapping
    assert restored.timestamp == rich.timestamp
    assert restored == rich


def test_values_that_fit_their_hint_are_kept_and_the_others_still_validated() -> None:
    data = _json_round_trip(Rich(mapping={"inner": Pong(text="p").to_dict()}))
    data |= {"ratio": 1, "flag": "yes", "numbers": ["1", 2], "color": "blue"}
    restored = Event.from_dict(data)
    assert type(restored) is Rich
    assert restored.ratio == 1.0 and type(restored.ratio) is float  # an int for a float field
    assert restored.flag is True and restored.numbers == [1, 2] and restored.color is Color.BLUE
    assert type(restored.mapping["inner"]) is Pong  # a message in a plain dict is still revived
    data["flag"] = {"not": "a bool"}
    assert Event.from_dict(data).flag == {"not": "a bool"}  # refused by its adapter: kept


@pytest.mark.parametrize(
    ("hint", "kept"),
    [
        (int, {int}),
        (bool, {bool}),
        (float, {float}),
        (str | None, {str, type(None)}),
        (int | str, {int, str}),
        (dt.datetime, set()),
        (dt.datetime | None, set()),
        (list[int], set()),
        (Color, set()),
    ],
)
def test_exact_types_are_those_a_field_keeps_unvalidated(hint: Any, kept: set[type]) -> None:
    assert exact_types(hint) == kept


def test_round_trip_of_a_nested_command_in_command_started_event() -> None:
    order = Order("tea", 2, ["hot"], session_id="S3")
    started = CommandStartedEvent(command=order, session_id="S3")
    data = _json_round_trip(started)
    assert data["command"]["message_type"] == f"{__name__}:Order"

    restored = Event.from_dict(data)
    assert type(restored) is CommandStartedEvent
    assert type(restored.command) is Order
    assert restored.command == order
    assert restored == started


def test_round_trip_of_command_result_in_command_result_event() -> None:
    result = CommandResult(
        success=False, command_id="c1", result={"rows": [1, 2]}, error="ValueError: no"
    )
    event = CommandResultEvent(command_result=result, session_id="S4")
    restored = Event.from_dict(_json_round_trip(event))

    assert type(restored) is CommandResultEvent
    assert type(restored.command_result) is CommandResult
    assert restored.command_result == result
    assert isinstance(restored.command_result.timestamp, dt.datetime)
    assert restored.command_result.metadata["finished_in"] == result.metadata["finished_in"]


def test_same_short_name_in_module_and_function_scope() -> None:
    class Ping(Command):  # shadows the module-level Ping on purpose
        count: int = 0

    local = Ping(count=7)
    module_level = globals()["Ping"]("text")
    assert type(local) is not type(module_level)

    local_back = Command.from_dict(_json_round_trip(local))
    module_back = Command.from_dict(_json_round_trip(module_level))
    assert type(local_back) is Ping and local_back.count == 7
    assert type(module_back) is globals()["Ping"] and module_back.text == "text"


def test_same_short_name_in_two_modules() -> None:
    alpha = _load_helper("msgtest_scope_alpha")
    beta = _load_helper("msgtest_scope_beta")
    first = alpha.Note("words")
    second = beta.Note(count=3)
    assert first.to_dict()["message_type"] == "msgtest_scope_alpha:Note"
    assert second.to_dict()["message_type"] == "msgtest_scope_beta:Note"

    first_back = Event.from_dict(_json_round_trip(first))
    second_back = Event.from_dict(_json_round_trip(second))
    assert type(first_back) is alpha.Note and first_back == first
    assert type(second_back) is beta.Note and second_back == second


def test_from_dict_never_imports_the_module_a_record_names(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    name = f"msgtest_lazy_{uuid.uuid4().hex}"
    marker = tmp_path / "imported"
    (tmp_path / f"{name}.py").write_text(
        f"open({str(marker)!r}, 'w').close()\n"
        "from llmgine.messages import Event\n\nclass Lazy(Event):\n    word: str = ''\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    record = {"message_type": f"{name}:Lazy", "word": "late"}
    try:
        with pytest.raises(SerializationError) as info:
            Event.from_dict(record)
        assert name not in sys.modules and not marker.exists()
        assert f"import its module ({name})" in str(info.value)
        # Once the application imports it, the class is known.
        module = importlib.import_module(name)
        restored = Event.from_dict(record)
        assert type(restored) is module.Lazy and restored.word == "late"
        assert message_class(f"{name}:Lazy") is module.Lazy
    finally:
        sys.modules.pop(name, None)


def test_postponed_annotations_restore_every_resolvable_field() -> None:
    helper = _load_helper("msgtest_postponed")
    event = helper.make_event()
    restored = Event.from_dict(_json_round_trip(event))

    assert type(restored) is type(event)
    assert restored.when == event.when and isinstance(restored.when, dt.datetime)
    assert type(restored.point) is helper.Point and restored.point == event.point
    # the function-local type cannot be found again: its value stays plain data
    assert restored.local == {"z": 3}


# -- values that cannot be serialised ---------------------------------------


def test_unserialisable_values_become_readable_strings() -> None:
    cyclic: dict[str, Any] = {"name": "loop"}
    cyclic["self"] = cyclic
    values = {
        "exception": ValueError("bad input"),
        "lock": threading.Lock(),
        "broken": BrokenRepr(),
        "mock": MagicMock(),
        "object": object(),
        "function": test_unserialisable_values_become_readable_strings,
        "cyclic": cyclic,
    }
    for label, value in values.items():
        event = Anything(value=value)
        data = event.to_dict()
        json.dumps(data)  # never raises
        text = data["value"]
        if label == "exception":
            assert text == "ValueError: bad input"
        elif label == "lock":
            assert isinstance(text, str) and "lock" in text
        elif label == "broken":
            assert isinstance(text, str) and "BrokenRepr" in text
        elif label == "mock":
            assert isinstance(text, str) and "MagicMock" in text
        elif label == "function":
            assert text.endswith("test_unserialisable_values_become_readable_strings")
        elif label == "cyclic":
            assert text["name"] == "loop"
        else:
            assert isinstance(text, str) and "object" in text
        # and the dict still loads
        assert type(Event.from_dict(json.loads(json.dumps(data)))) is Anything


def test_handler_failed_event_round_trips_with_exception_as_text() -> None:
    failed = EventHandlerFailedEvent(
        event=Pong("boom"), handler="mod.on_pong", exception=RuntimeError("it broke")
    )
    data = _json_round_trip(failed)
    assert data["exception"] == "RuntimeError: it broke"
    restored = Event.from_dict(data)
    assert type(restored) is EventHandlerFailedEvent
    assert type(restored.event) is Pong and restored.event == failed.event
    assert restored.handler == "mod.on_pong"
    assert restored.exception == "RuntimeError: it broke"


# -- errors -----------------------------------------------------------------


def test_unknown_message_type_in_a_known_module() -> None:
    data = {"message_type": f"{__name__}:NoSuchMessage", "text": "x"}
    with pytest.raises(SerializationError) as info:
        Event.from_dict(data)
    assert isinstance(info.value, LLMgineError) and isinstance(info.value, ValueError)
    message = str(info.value)
    assert "unknown message type" in message and "NoSuchMessage" in message


def test_unknown_message_type_in_a_missing_module() -> None:
    name = f"no_such_module_{uuid.uuid4().hex}:Ghost"
    with pytest.raises(SerializationError) as info:
        Message.from_dict({"message_type": name})
    assert name in str(info.value) and "no such message class is defined" in str(info.value)
    assert isinstance(info.value, ValueError)


def test_command_from_dict_of_an_event_dict() -> None:
    data = _json_round_trip(Pong("x"))
    with pytest.raises(SerializationError) as info:
        Command.from_dict(data)
    assert "Pong" in str(info.value) and "Command" in str(info.value)
    with pytest.raises(SerializationError):
        Ping.from_dict(_json_round_trip(DecoratedPing("y")))


def test_from_dict_of_bad_input() -> None:
    with pytest.raises(SerializationError, match="expected a dict"):
        Event.from_dict(["not", "a", "dict"])  # type: ignore[arg-type]
    with pytest.raises(SerializationError, match="cannot rebuild"):
        Command.from_dict({"message_type": f"{__name__}:Order", "quantity": 2})
