"""The README's commands and runnable examples work as written."""

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def _python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README, flags=re.DOTALL)


def test_readme_shows_the_two_setup_commands() -> None:
    assert "make run" in README and "make test" in README
    makefile = (ROOT / "Makefile").read_text()
    assert re.search(r"^run:", makefile, flags=re.MULTILINE)
    assert re.search(r"^test:", makefile, flags=re.MULTILINE)


def test_runnable_examples_run(tmp_path: Path) -> None:
    runnable = [block for block in _python_blocks() if "asyncio.run(" in block]
    assert len(runnable) >= 4, "the README's complete examples"
    # Run from the repository root, as a reader would; keep any bus files out of it.
    env = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY")}
    env["LLMGINE_DATA_DIR"] = str(tmp_path)
    for block in runnable:
        proc = subprocess.run(
            [sys.executable, "-c", block],
            capture_output=True,
            text=True,
            timeout=60,
            cwd=ROOT,
            env=env,
        )
        assert proc.returncode == 0, proc.stderr
        if "prints" in block:
            assert "pong!" in proc.stdout


def test_other_examples_compile() -> None:
    for block in _python_blocks():
        # Snippets may use top-level await, as in a notebook or `python -m asyncio`.
        compile(block, "<README>", "exec", flags=0x2000)  # PyCF_ALLOW_TOP_LEVEL_AWAIT
