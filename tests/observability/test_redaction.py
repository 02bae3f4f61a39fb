"""Redaction: secret keys, credential-looking text, environment secrets, end to end."""

import json
import logging
from dataclasses import field
from pathlib import Path
from typing import Any

import pytest

from llmgine.bus.bus import MessageBus
from llmgine.messages import Command, Event
from llmgine.observability import ConsoleEventHandler, FileEventHandler, Redactor, is_secret_key
from llmgine.observability.redaction import MASK

# Built from pieces so no scanner mistakes these fakes for real keys.
OPENAI_KEY = "sk-" + "Fake0penAiKey" * 3
ANTHROPIC_KEY = "sk-ant-" + "api03-" + "FakeAnthr0picKey" * 3
GOOGLE_KEY = "AIza" + "FakeG00gleKeyValue" * 2
BEARER_TOKEN = "eyJhbGciOi" + "FakeBearerToken" * 2
ENV_SECRET = "s3cr3t-value-123"

SECRET_KEYS = [
    "api_key",
    "Authorization",
    "x-api-key",
    "password",
    "access_token",
    "client_secret",
    "OPENAI_API_KEY",
]
USAGE_KEYS = ["prompt_tokens", "total_tokens", "max_tokens", "completion_tokens"]


@pytest.fixture
def redactor() -> Redactor:
    return Redactor(use_environment=False)


class Chat(Event):
    text: str = ""
    model: str = ""
    prompt_tokens: int = 0


class ProviderCall(Event):
    api_key: str = ""
    prompt: str = ""
    model: str = ""
    prompt_tokens: int = 0
    max_tokens: int = 0
    headers: dict[str, str] = field(default_factory=dict)


class CallProvider(Command):
    api_key: str = ""
    question: str = ""


# -- keys -------------------------------------------------------------------


@pytest.mark.parametrize("key", SECRET_KEYS)
def test_secret_keys_are_masked(key: str, redactor: Redactor) -> None:
    assert is_secret_key(key)
    data = {key: "short", "nested": {key: 12345678}, "items": [{key: ["a", "b"]}]}
    assert redactor.redact(data) == {
        key: MASK,
        "nested": {key: MASK},
        "items": [{key: MASK}],
    }
    assert MASK == "***"


@pytest.mark.parametrize("key", USAGE_KEYS)
def test_usage_counters_are_not_masked(key: str, redactor: Redactor) -> None:
    assert not is_secret_key(key)
    data = {key: 1234, "usage": {key: 99}}
    assert redactor.redact(data) == {key: 1234, "usage": {key: 99}}


def test_empty_secret_values_stay_as_they_are(redactor: Redactor) -> None:
    assert redactor.redact({"api_key": None, "password": ""}) == {"api_key": None, "password": ""}


# -- text -------------------------------------------------------------------


@pytest.mark.parametrize(
    "secret", [OPENAI_KEY, ANTHROPIC_KEY, GOOGLE_KEY], ids=["openai", "anthropic", "google"]
)
def test_credentials_inside_longer_text_are_masked(secret: str, redactor: Redactor) -> None:
    text = f"calling the API with key {secret} now, please wait"
    masked = redactor.redact_text(text)
    assert masked == "calling the API with key *** now, please wait"
    assert redactor.redact({"note": text, "list": [text]}) == {
        "note": masked,
        "list": [masked],
    }


def test_bearer_token_is_masked_but_the_scheme_stays(redactor: Redactor) -> None:
    text = f"header was Authorization: Bearer {BEARER_TOKEN} (sent)"
    assert redactor.redact_text(text) == "header was Authorization: Bearer *** (sent)"
    assert redactor.redact_text(f"bearer {BEARER_TOKEN}") == "bearer ***"


def test_ordinary_text_is_left_alone(redactor: Redactor) -> None:
    text = "The skeleton key opened 42 doors; tokens used: 1234. Bearer of news."
    assert redactor.redact_text(text) == text
    assert redactor.redact({"text": text, "n": 1}) == {"text": text, "n": 1}


# -- environment ------------------------------------------------------------


def test_value_of_a_secret_named_environment_variable_is_masked(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MY_SERVICE_TOKEN", ENV_SECRET)
    monkeypatch.setenv("MY_SERVICE_URL", "https://service.example.org/v1")
    redactor = Redactor()
    text = f"connecting with {ENV_SECRET} to https://service.example.org/v1"
    assert redactor.redact_text(text) == "connecting with *** to https://service.example.org/v1"
    data = redactor.redact({"config": {"value": ENV_SECRET}, "list": [f"x{ENV_SECRET}x"]})
    assert data == {"config": {"value": MASK}, "list": [f"x{MASK}x"]}
    # without the environment the same text is not a secret
    assert Redactor(use_environment=False).redact_text(text) == text


def test_refresh_reads_the_environment_again(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MY_SERVICE_TOKEN", raising=False)
    redactor = Redactor()
    assert ENV_SECRET in redactor.redact_text(f"value {ENV_SECRET}")
    monkeypatch.setenv("MY_SERVICE_TOKEN", ENV_SECRET)
    redactor.refresh()
    assert redactor.redact_text(f"value {ENV_SECRET}") == "value ***"


def test_extra_values_are_masked(redactor: Redactor) -> None:
    custom = Redactor(["my-literal-secret"], use_environment=False)
    assert custom.redact_text("a my-literal-secret b") == "a *** b"
    assert redactor.redact_text("a my-literal-secret b") == "a my-literal-secret b"


# -- needs_redaction --------------------------------------------------------


def test_needs_redaction_is_false_for_a_plain_event(redactor: Redactor) -> None:
    event = Chat("hello there, how are you today?", model="gpt-test", prompt_tokens=12)
    assert redactor.needs_redaction(event) is False
    assert redactor.needs_redaction(ProviderCall(prompt="plain", max_tokens=5)) is True


@pytest.mark.parametrize(
    "event",
    [
        ProviderCall(api_key="short"),
        Chat(f"use {OPENAI_KEY}"),
        Chat("hi", metadata={"headers": {"Authorization": "x"}}),
        Chat("hi", metadata={"note": f"Bearer {BEARER_TOKEN}"}),
        ProviderCall(headers={"x-api-key": "k"}),
    ],
    ids=["secret-field", "key-in-text", "secret-metadata-key", "bearer-metadata", "header"],
)
def test_needs_redaction_is_true_for_an_event_with_a_secret(
    event: Event, redactor: Redactor
) -> None:
    assert redactor.needs_redaction(event) is True


def test_needs_redaction_sees_environment_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MY_SERVICE_TOKEN", ENV_SECRET)
    event = Chat(f"token is {ENV_SECRET}")
    assert Redactor().needs_redaction(event) is True
    assert Redactor(use_environment=False).needs_redaction(event) is False


# -- end to end -------------------------------------------------------------


async def test_secrets_never_reach_the_file_or_the_console(
    bus: MessageBus,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setenv("MY_SERVICE_TOKEN", ENV_SECRET)
    redactor = Redactor()
    file_handler = FileEventHandler(tmp_path / "logs", "events.jsonl", redactor=redactor)
    console = ConsoleEventHandler(max_length=10_000, redactor=redactor)
    bus.register_observability_handler(file_handler)
    bus.register_observability_handler(console)
    caplog.set_level(logging.INFO, logger="llmgine.events")

    def on_call(command: CallProvider) -> str:
        return "answered"

    bus.register_command_handler(CallProvider, on_call)

    try:
        await bus.publish(
            ProviderCall(
                api_key=ANTHROPIC_KEY,
                prompt=f"my key is {OPENAI_KEY}, keep it safe",
                model="claude-test",
                prompt_tokens=321,
                max_tokens=1024,
                headers={"Authorization": f"Bearer {BEARER_TOKEN}"},
                metadata={"headers": {"Authorization": f"Bearer {BEARER_TOKEN}"}},
            )
        )
        await bus.publish(Chat(f"google {GOOGLE_KEY} and env {ENV_SECRET}", model="gemini-x"))
        await bus.execute(CallProvider(api_key=OPENAI_KEY, question="what is the weather?"))
        await bus.stop()
    finally:
        file_handler.close()

    file_text = (tmp_path / "logs" / "events.jsonl").read_text()
    console_lines = [r.getMessage() for r in caplog.records if r.name == "llmgine.events"]
    console_text = "\n".join(console_lines)
    assert len(console_lines) == 4  # ProviderCall, Chat, CommandStarted, CommandResult
    for secret in (OPENAI_KEY, ANTHROPIC_KEY, GOOGLE_KEY, BEARER_TOKEN, ENV_SECRET):
        assert secret not in file_text
        assert secret not in caplog.text
    for text in (file_text, console_text):
        for ordinary in ("claude-test", "gemini-x", "keep it safe", "what is the weather?"):
            assert ordinary in text
        assert "321" in text and "1024" in text

    objects = {obj["event_type"]: obj for obj in map(json.loads, file_text.splitlines())}
    call = objects["ProviderCall"]
    assert call["api_key"] == MASK
    assert call["prompt"] == "my key is ***, keep it safe"
    assert call["prompt_tokens"] == 321 and call["max_tokens"] == 1024
    assert call["headers"] == {"Authorization": MASK}
    assert call["metadata"]["headers"] == {"Authorization": MASK}
    assert "test_secrets_never_reach_the_file_or_the_console" in call["metadata"]["emitted_from"]
    assert objects["Chat"]["text"] == "google *** and env ***"
    command = objects["CommandStartedEvent"]["command"]
    assert command["api_key"] == MASK and command["question"] == "what is the weather?"


def test_event_to_dict_masks_without_changing_the_event(redactor: Redactor) -> None:
    handler = ConsoleEventHandler(redactor=redactor)
    event = ProviderCall(api_key=OPENAI_KEY, prompt=f"k={OPENAI_KEY}")
    data: dict[str, Any] = handler.event_to_dict(event)
    assert data["api_key"] == MASK and data["prompt"] == "k=***"
    assert event.api_key == OPENAI_KEY and event.prompt == f"k={OPENAI_KEY}"


@pytest.mark.parametrize(
    "text",
    ["risk-assessment-framework-v2", "task-management-overview-2026", "desk-booking_system_x"],
)
def test_words_ending_in_sk_are_not_taken_for_keys(text: str, redactor: Redactor) -> None:
    assert redactor.redact_text(f"see {text} now") == f"see {text} now"


def test_integers_beyond_64_bits_still_reach_the_log(tmp_path: Path) -> None:
    class Huge(Event):
        value: int = 0

    handler = FileEventHandler(log_dir=tmp_path, filename="huge.jsonl")
    handler.handle(Huge(value=2**70))
    handler.close()
    (line,) = (tmp_path / "huge.jsonl").read_text().splitlines()
    assert json.loads(line)["value"] == 2**70


# -- secrets as dict keys ------------------------------------------------------------


def test_a_credential_used_as_a_dict_key_is_masked(redactor: Redactor) -> None:
    data = {OPENAI_KEY: "alice", "team": {ANTHROPIC_KEY: ["bob"]}, "plain": 1}
    assert redactor.needs_redaction(data)
    redacted = redactor.redact(data)
    assert redacted == {MASK: "alice", "team": {MASK: ["bob"]}, "plain": 1}
    assert OPENAI_KEY not in json.dumps(redacted) and ANTHROPIC_KEY not in json.dumps(redacted)


def test_keys_that_mask_alike_keep_every_value(redactor: Redactor) -> None:
    other = "sk-" + "An0therFakeKeyValue" * 2
    redacted = redactor.redact({OPENAI_KEY: 1, "***": 0, other: 2, "after": 3})
    assert redacted == {MASK: 1, f"{MASK}#2": 0, f"{MASK}#3": 2, "after": 3}
    assert list(redacted) == [MASK, f"{MASK}#2", f"{MASK}#3", "after"]


class KeyOwners(Event):
    owners: dict[str, str] = field(default_factory=dict)
    nested: list[dict[str, Any]] = field(default_factory=list)


async def test_a_secret_dict_key_never_reaches_the_jsonl_log(
    fresh_bus: MessageBus, tmp_path: Path
) -> None:
    handler = FileEventHandler(tmp_path, "events.jsonl")
    fresh_bus.register_observability_handler(handler)
    try:
        await fresh_bus.publish(
            KeyOwners(owners={OPENAI_KEY: "owner"}, nested=[{GOOGLE_KEY: {"uses": 3}}])
        )
        handler.flush()
    finally:
        fresh_bus.unregister_observability_handler(handler)
        handler.close()
    text = (tmp_path / "events.jsonl").read_text()
    assert OPENAI_KEY not in text and GOOGLE_KEY not in text
    line = json.loads(text)
    assert line["owners"] == {MASK: "owner"}
    assert line["nested"] == [{MASK: {"uses": 3}}]
