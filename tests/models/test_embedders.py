"""Embedders: OpenAI's through the real SDK against a recorded answer, and the offline one."""

from __future__ import annotations

import base64
import math
import subprocess
import sys
from array import array
from pathlib import Path

import pytest
from wire_fixtures import recorded, recorded_reply

from fake_server import FakeProviderServer, json_reply
from llmgine.errors import (
    ConfigurationError,
    MissingAPIKeyError,
    ModelRequestsBlockedError,
    ProviderAuthError,
    ProviderResponseError,
    UnknownModelError,
)
from llmgine.models import Embedder, HashEmbedder, OpenAIEmbedder, get_embedder
from llmgine.testing import HashEmbedder as ExportedHashEmbedder

SRC = Path(__file__).resolve().parents[2] / "src"


def recorded_vector() -> list[float]:
    body = recorded("openai_embeddings")["response"]["data"][0]["embedding"]
    return array("f", base64.b64decode(body)).tolist()


async def test_openai_embeddings_through_the_sdk_on_a_recorded_answer(
    fake_server: FakeProviderServer,
) -> None:
    fake_server.add(recorded_reply("openai_embeddings"))
    embedder = OpenAIEmbedder(api_key="sk-test-key", base_url=f"{fake_server.url}/v1")
    try:
        (vector,) = await embedder.embed(["Hello, world!"])
    finally:
        await embedder.aclose()
    assert len(vector) == 1536
    assert vector == pytest.approx(recorded_vector())
    assert math.sqrt(sum(x * x for x in vector)) == pytest.approx(1.0, abs=1e-5)
    (request,) = fake_server.received
    assert request.path == "/v1/embeddings"
    assert request.headers["authorization"] == "Bearer sk-test-key"
    assert request.json == recorded("openai_embeddings")["request"]
    assert embedder.name == "openai:text-embedding-3-small"


async def test_shortened_vectors_are_asked_for_and_named(fake_server: FakeProviderServer) -> None:
    fake_server.add(recorded_reply("openai_embeddings"))
    embedder = OpenAIEmbedder(dimensions=256, api_key="k", base_url=f"{fake_server.url}/v1")
    await embedder.embed(["Hello, world!"])
    await embedder.aclose()
    assert fake_server.received[0].json["dimensions"] == 256
    assert embedder.name == "openai:text-embedding-3-small@256"


async def test_failures_are_provider_errors(
    fake_server: FakeProviderServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake_server.add(
        json_reply({"error": {"message": "Incorrect API key provided"}}, status=401),
        recorded_reply("openai_embeddings"),  # one vector for two texts
    )
    embedder = OpenAIEmbedder(api_key="sk-wrong", base_url=f"{fake_server.url}/v1")
    with pytest.raises(ProviderAuthError, match="Incorrect API key"):
        await embedder.embed(["a"])
    with pytest.raises(ProviderResponseError, match="asked for 2 embeddings, got 1"):
        await embedder.embed(["a", "b"])
    await embedder.aclose()
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with pytest.raises(MissingAPIKeyError, match="OPENAI_API_KEY"):
        await OpenAIEmbedder(base_url=f"{fake_server.url}/v1").embed(["a"])
    with pytest.raises(ModelRequestsBlockedError):  # the real API is never called from tests
        await OpenAIEmbedder(api_key="k").embed(["a"])
    with pytest.raises(ConfigurationError, match="no OpenAI-format embeddings API"):
        OpenAIEmbedder(provider="anthropic")


def test_embedders_by_name(monkeypatch: pytest.MonkeyPatch) -> None:
    assert isinstance(get_embedder("hash"), HashEmbedder)
    assert get_embedder("hash:64").name == "hash:64"
    ollama = get_embedder("ollama:nomic-embed-text")
    assert isinstance(ollama, OpenAIEmbedder) and ollama.base_url.startswith("http://localhost")
    mine = HashEmbedder(32)
    assert get_embedder(mine) is mine
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    assert get_embedder(None).name == "hash:256"
    monkeypatch.setenv("OPENAI_API_KEY", "sk-x")
    assert get_embedder(None).name == "openai:text-embedding-3-small"
    for bad in ("nonsense", "hash:many", "nowhere:model"):
        with pytest.raises(UnknownModelError):
            get_embedder(bad)
    assert ExportedHashEmbedder is HashEmbedder and issubclass(HashEmbedder, Embedder)


def cosine(a: list[float], b: list[float]) -> float:
    return sum(x * y for x, y in zip(a, b, strict=True))


async def test_the_hash_embedder_is_deterministic_and_lexical() -> None:
    embedder = HashEmbedder(128)
    weather, forecast, recipe = await embedder.embed(
        [
            "What is the weather in Oslo today?",
            "Oslo weather forecast for tomorrow",
            "A recipe for lemon cake with butter",
        ]
    )
    assert len(weather) == 128
    assert math.sqrt(sum(x * x for x in weather)) == pytest.approx(1.0)
    assert cosine(weather, forecast) > 0.3 > cosine(weather, recipe)
    assert await embedder.embed_one("the and of") == [0.0] * 128  # no content words
    with pytest.raises(ValueError, match="at least 8"):
        HashEmbedder(4)


def test_the_hash_embedder_gives_the_same_vector_in_another_process() -> None:
    text = "What is the weather in Oslo today?"
    code = (
        f"import sys; sys.path.insert(0, {str(SRC)!r}); "
        "from llmgine.models import HashEmbedder; "
        f"print(repr(HashEmbedder(128).vector({text!r})))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert eval(out.stdout) == HashEmbedder(128).vector(text)  # noqa: S307 - floats we printed
