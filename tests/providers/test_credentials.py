import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from llmgine.errors import MissingAPIKeyError
from llmgine.observability.redaction import default_redactor
from llmgine.providers import credentials, provider_spec


@pytest.fixture
def fresh_dotenv(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Path]:
    monkeypatch.setattr(credentials, "_loaded", False)
    monkeypatch.chdir(tmp_path)
    yield tmp_path
    default_redactor().refresh()


def test_key_from_a_dotenv_file_without_overriding_the_environment(
    fresh_dotenv: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("XAI_API_KEY", raising=False)
    monkeypatch.setenv("DEEPSEEK_API_KEY", "from-the-shell-123")
    (fresh_dotenv / ".env").write_text(
        "XAI_API_KEY=xai-from-dotenv-abcdefghijklmnopqrstu\nDEEPSEEK_API_KEY=from-dotenv-456\n"
    )
    try:
        assert credentials.api_key_for(provider_spec("xai"), "grok-3-mini") == (
            "xai-from-dotenv-abcdefghijklmnopqrstu"
        )
        assert credentials.api_key_for(provider_spec("deepseek"), "deepseek-chat") == (
            "from-the-shell-123"
        )
        # a secret that arrived from .env is masked in logs from now on
        assert "from-dotenv" not in default_redactor().redact_text(
            "key xai-from-dotenv-abcdefghijklmnopqrstu"
        )
    finally:
        os.environ.pop("XAI_API_KEY", None)


def test_dotenv_is_not_read_at_import() -> None:
    import subprocess
    import sys

    code = "import llmgine, llmgine.models, sys; print('dotenv' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_missing_key(fresh_dotenv: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GEMINI_API_KEY", raising=False)
    monkeypatch.delenv("GOOGLE_API_KEY", raising=False)
    with pytest.raises(MissingAPIKeyError, match="GEMINI_API_KEY"):
        credentials.api_key_for(provider_spec("gemini"), "gemini-2.5-flash")
    monkeypatch.setenv("GOOGLE_API_KEY", "g-key-123456")
    assert credentials.api_key_for(provider_spec("gemini"), "gemini-2.5-flash") == "g-key-123456"


def test_local_servers_need_no_key(fresh_dotenv: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OLLAMA_API_KEY", raising=False)
    assert credentials.api_key_for(provider_spec("ollama"), "llama3.2") == "not-needed"


def test_an_explicit_key_wins() -> None:
    assert credentials.api_key_for(provider_spec("openai"), "m", "sk-explicit") == "sk-explicit"


def test_key_source_tells_the_environment_from_the_dotenv_file(
    fresh_dotenv: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(credentials, "_from_dotenv", {})
    monkeypatch.delenv("XAI_API_KEY", raising=False)
    monkeypatch.setenv("DEEPSEEK_API_KEY", "from-the-shell-123")
    monkeypatch.delenv("GEMINI_API_KEY", raising=False)
    (fresh_dotenv / ".env").write_text(
        "XAI_API_KEY=xai-from-dotenv-abcdefghijklmnopqrstu\nDEEPSEEK_API_KEY=from-dotenv-456\n"
    )
    try:
        assert credentials.key_source("XAI_API_KEY") == f".env file {fresh_dotenv / '.env'}"
        assert credentials.key_source("DEEPSEEK_API_KEY") == "environment"
        assert credentials.key_source("GEMINI_API_KEY") is None
    finally:
        os.environ.pop("XAI_API_KEY", None)
