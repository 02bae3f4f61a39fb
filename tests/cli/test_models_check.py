"""``llmgine models --check`` against local servers speaking the providers' wire formats."""

from __future__ import annotations

import json
from pathlib import Path

from cli_test_utils import run_llmgine as run

from fake_server import FakeProviderServer, json_reply

WIRE = Path(__file__).resolve().parents[1] / "models" / "wire"


def recorded(name: str, key: str = "response") -> object:
    data = json.loads((WIRE / f"{name}.json").read_text())
    return data[key] if key == "response" else data[key][0]


def test_the_configured_models_are_checked_and_the_table_says_which_answer(
    tmp_path: Path,
) -> None:
    with FakeProviderServer() as openai, FakeProviderServer() as anthropic:
        openai.add(json_reply(recorded("openai_chat_text")))
        anthropic.add(json_reply({"error": {"message": "invalid x-api-key"}}, status=401))
        env = {
            "OPENAI_API_KEY": "sk-test",
            "OPENAI_BASE_URL": f"{openai.url}/v1",
            "ANTHROPIC_API_KEY": "sk-ant-wrong",
            "ANTHROPIC_BASE_URL": anthropic.url,
        }
        proc = run(["models", "--check", "--timeout", "30"], tmp_path, env=env)
        assert proc.returncode == 1, proc.stderr  # one did not answer
        assert "Model check: 1 of 2 answered" in proc.stdout
        rows = [line.split("│") for line in proc.stdout.splitlines() if line.startswith("│ ")]
        cells = {
            row[1].strip(): [cell.strip() for cell in row[2:]] for row in rows if row[1].strip()
        }
        assert cells["openai:gpt-4.1-mini"][0] == "yes"
        assert cells["openai:gpt-4.1-mini"][2].startswith("Hello!")
        assert cells["anthropic:claude-haiku-4-5"][0] == "no"
        assert cells["anthropic:claude-haiku-4-5"][2].startswith("ProviderAuthError")
        assert "invalid x-api-key" in proc.stdout and "Traceback" not in proc.stderr
        assert len(openai.received) == len(anthropic.received) == 1
        assert openai.received[0].json["model"] == "gpt-4.1-mini"

        openai.add(json_reply(recorded("openai_chat_text")))
        only = run(["models", "--model", "openai:gpt-4o", "--json"], tmp_path, env=env)
    assert only.returncode == 0, only.stderr
    report = json.loads(only.stdout)
    assert report["configured"] == ["openai:gpt-4o"]
    (result,) = report["results"]
    assert result["ok"] and result["answer"].startswith("Hello!") and result["error"] is None


def test_with_no_key_nothing_is_configured(tmp_path: Path) -> None:
    proc = run(["models", "--check"], tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "No model is configured" in proc.stdout and "nothing to check" in proc.stdout
    as_json = run(["models", "--check", "--json"], tmp_path)
    assert json.loads(as_json.stdout)["configured"] == []
