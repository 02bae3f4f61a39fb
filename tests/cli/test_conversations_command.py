"""Stored chats from the command line: chat --continue / --conversation / --db, conversations."""

from __future__ import annotations

import json
from pathlib import Path

from cli_test_utils import run_llmgine as run

ROOT = Path(__file__).resolve().parents[2]
WEATHER = str(ROOT / "tools" / "weather.py")


def chat(tmp_path: Path, *args: str) -> str:
    proc = run(["chat", "--model", "demo", "--tools", WEATHER, *args], tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    return proc.stdout


def listed(tmp_path: Path, db: Path) -> list[dict[str, object]]:
    proc = run(["conversations", "list", "--db", str(db), "--json"], tmp_path)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def test_a_chat_is_stored_and_continued(tmp_path: Path) -> None:
    db = tmp_path / "chats.db"
    chat(tmp_path, "--db", str(db), "--prompt", "What's the weather in Paris?")
    chat(tmp_path, "--db", str(db), "--prompt", "What's the weather in Oslo?")
    first, second = reversed(listed(tmp_path, db))
    assert first["title"] == "What's the weather in Paris?"
    assert first["message_count"] == 4  # user, tool call, tool result, answer
    assert first["metadata"] == {"engine": "ToolChatEngine", "model": "demo"}

    chat(tmp_path, "--db", str(db), "--continue", "--prompt", "What's the weather in Rome?")
    chat(tmp_path, "--db", str(db), "--conversation", str(first["id"])[:6], "--prompt", "Perth?")
    after = {c["id"]: c for c in listed(tmp_path, db)}
    assert after[second["id"]]["message_count"] == 8
    assert after[first["id"]]["message_count"] == 6

    shown = run(["conversations", "show", str(second["id"]), "--db", str(db), "--json"], tmp_path)
    messages = json.loads(shown.stdout)["messages"]
    assert [m["role"] for m in messages] == ["user", "assistant", "tool", "assistant"] * 2
    assert messages[1]["tool_calls"][0]["function"]["name"] == "get_weather"
    assert "Rome" in messages[-1]["content"]

    text = run(["conversations", "show", "--db", str(db)], tmp_path)  # the latest
    assert text.returncode == 0 and f"conversation {first['id']}" in text.stdout
    assert "→ get_weather" in text.stdout and "user: Perth?" in text.stdout

    table = run(["conversations", "list", "--db", str(db)], tmp_path)
    assert str(first["id"]) in table.stdout and "Paris" in table.stdout

    deleted = run(["conversations", "delete", str(first["id"]), "--db", str(db)], tmp_path)
    assert deleted.returncode == 0 and f"deleted conversation {first['id']}" in deleted.stdout
    assert [c["id"] for c in listed(tmp_path, db)] == [second["id"]]


def test_no_save_stores_nothing_and_continue_on_an_empty_file_starts_afresh(
    tmp_path: Path,
) -> None:
    db = tmp_path / "chats.db"
    chat(tmp_path, "--db", str(db), "--no-save", "--prompt", "hello")
    assert listed(tmp_path, db) == []
    chat(tmp_path, "--db", str(db), "--continue", "--prompt", "hello")
    assert len(listed(tmp_path, db)) == 1
    empty = run(["conversations", "list", "--db", str(tmp_path / "none.db")], tmp_path)
    assert empty.returncode == 0 and "no conversations in" in empty.stdout


def test_the_default_file_is_under_xdg_data_home(tmp_path: Path) -> None:
    env = {"XDG_DATA_HOME": str(tmp_path / "data")}
    proc = run(["chat", "--model", "demo", "--prompt", "hi"], tmp_path, env=env)
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "data" / "llmgine" / "conversations.db").is_file()
    shown = run(["conversations", "list", "--json"], tmp_path, env=env)
    assert [c["title"] for c in json.loads(shown.stdout)] == ["hi"]


def test_unusable_files_and_ids_are_one_line_errors(tmp_path: Path) -> None:
    bad = tmp_path / "bad.db"
    bad.write_bytes(b"not a database at all\n" * 100)
    before = bad.read_bytes()
    for args in (
        ["chat", "--model", "demo", "--db", str(bad), "--prompt", "hi"],
        ["conversations", "list", "--db", str(bad)],
        ["conversations", "show", "abc", "--db", str(bad)],
    ):
        proc = run(args, tmp_path)
        assert proc.returncode == 2, args
        assert proc.stderr.startswith("error: ") and "is damaged or is not an SQLite" in proc.stderr
        assert "Traceback" not in proc.stderr
    assert bad.read_bytes() == before

    good = tmp_path / "good.db"
    for args in (
        ["chat", "--model", "demo", "--db", str(good), "--conversation", "nope", "--prompt", "x"],
        ["conversations", "delete", "nope", "--db", str(good)],
    ):
        proc = run(args, tmp_path)
        assert proc.returncode == 2 and "no conversation in" in proc.stderr, proc.stderr
    both = run(["chat", "--continue", "--conversation", "x", "--prompt", "x"], tmp_path)
    assert both.returncode == 2 and "not allowed with" in both.stderr
    folder = run(["chat", "--db", str(tmp_path), "--prompt", "x", "--model", "demo"], tmp_path)
    assert folder.returncode == 2 and "is a folder" in folder.stderr


def test_chat_with_memory_recalls_an_earlier_conversation(tmp_path: Path) -> None:
    db = tmp_path / "chats.db"
    logs = tmp_path / "second-run-logs"  # the first run logs to ./logs
    base = ["chat", "--model", "demo", "--db", str(db), "--memory"]
    first = run([*base, "--prompt", "My cat is called Miso."], tmp_path)
    assert first.returncode == 0, first.stderr
    second = run(
        [*base, "--embedder", "hash", "--log-dir", str(logs), "--prompt", "Is my cat Miso?"],
        tmp_path,
    )
    assert second.returncode == 0, second.stderr
    (log,) = logs.glob("*.jsonl")
    (event,) = [json.loads(line) for line in log.read_text().splitlines() if "MemoryRecall" in line]
    assert event["embedder"] == "hash:256" and event["error"] is None
    assert event["recalled"][0]["text"].startswith("User: My cat is called Miso.")
    nosave = run(["chat", "--memory", "--no-save", "--prompt", "x", "--model", "demo"], tmp_path)
    assert nosave.returncode == 2 and "drop --no-save" in nosave.stderr
    bad = run([*base, "--embedder", "nonsense", "--prompt", "x"], tmp_path)
    assert bad.returncode == 2 and "unknown embedder 'nonsense'" in bad.stderr


def test_titles_are_shown_as_written_and_secrets_masked(tmp_path: Path) -> None:
    db = tmp_path / "c.db"
    key = "sk-proj-ABCDEFGHIJKLMNOPQRSTUVWX1234"
    chat(tmp_path, "--db", str(db), "--prompt", "what does [/x] mean in [red]rich[/red]?")
    chat(tmp_path, "--db", str(db), "--prompt", "a" * 60 + " " + key + " is my key")
    table = run(["conversations", "list", "--db", str(db)], tmp_path)
    assert table.returncode == 0, table.stderr
    assert "what does [/x] mean in [red]rich[/red]?" in table.stdout
    titles = [str(c["title"]) for c in listed(tmp_path, db)]
    assert titles[0].startswith("a" * 60 + " ***")  # masked whole, then cut to a title
    for args in (["list"], ["list", "--json"], ["show"], ["show", "--json"]):
        shown = run(["conversations", *args, "--db", str(db)], tmp_path)
        assert shown.returncode == 0 and "ABCDEFGHIJ" not in shown.stdout, args


def test_reading_a_file_that_is_not_there_never_makes_it(tmp_path: Path) -> None:
    missing = tmp_path / "typo" / "c.db"
    for action in (["list"], ["show"], ["list", "--json"]):
        proc = run(["conversations", *action, "--db", str(missing)], tmp_path)
        assert proc.returncode == 0 and proc.stdout.strip(), action
        assert "[]" in proc.stdout or "(the file does not exist)" in proc.stdout
    for action in (["show", "abc"], ["delete", "abc"]):
        proc = run(["conversations", *action, "--db", str(missing)], tmp_path)
        assert proc.returncode == 2, action
        assert proc.stderr.startswith(f"error: no conversation in {missing} matches 'abc'")
    assert not missing.parent.exists()
    empty_id = run(["chat", "--model", "demo", "--conversation", "", "--prompt", "x"], tmp_path)
    assert empty_id.returncode == 2 and "--conversation needs an id" in empty_id.stderr
