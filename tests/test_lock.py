"""The dependency lock: it matches pyproject.toml, names no index, and is what is installed."""

import importlib.metadata
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from packaging.markers import Marker
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]
LOCK = ROOT / "requirements.lock"
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)\s*(?:;\s*([^\\]+?))?\s*\\?$")


def pins() -> dict[str, tuple[str, str | None]]:
    found = {}
    for line in LOCK.read_text().splitlines():
        match = PIN.match(line)
        if match:
            found[canonicalize_name(match[1])] = (match[2], match[3])
    return found


def check(tmp_path: Path, pyproject_text: str) -> subprocess.CompletedProcess[str]:
    (tmp_path / ".ci").mkdir(exist_ok=True)
    shutil.copy(ROOT / ".ci" / "lock.py", tmp_path / ".ci" / "lock.py")
    shutil.copy(LOCK, tmp_path / "requirements.lock")
    (tmp_path / "pyproject.toml").write_text(pyproject_text)
    return subprocess.run(
        [sys.executable, str(tmp_path / ".ci" / "lock.py"), "check"],
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_the_lock_matches_pyproject(tmp_path: Path) -> None:
    proc = check(tmp_path, (ROOT / "pyproject.toml").read_text())
    assert proc.returncode == 0, proc.stderr


def test_a_dependency_change_without_make_lock_fails_with_what_to_run(tmp_path: Path) -> None:
    text = (ROOT / "pyproject.toml").read_text().replace('"rich>=13,<15"', '"rich>=13,<16"')
    proc = check(tmp_path, text)
    assert proc.returncode == 1
    assert "run `make lock`" in proc.stderr and "requirements.lock" in proc.stderr


def test_other_pyproject_changes_need_no_new_lock(tmp_path: Path) -> None:
    text = (ROOT / "pyproject.toml").read_text().replace("line-length = 100", "line-length = 99")
    assert check(tmp_path, text).returncode == 0


def test_every_pin_is_hashed_and_no_index_or_url_is_named() -> None:
    text = LOCK.read_text()
    assert not re.search(r"https?://|--index-url|--extra-index-url|--find-links", text)
    blocks = re.split(r"\n(?=[A-Za-z0-9])", text.split("\n", 3)[-1])
    for block in blocks:
        if PIN.match(block.splitlines()[0]):
            assert "--hash=sha256:" in block, block.splitlines()[0]


def test_the_build_backend_and_every_direct_dependency_are_locked() -> None:
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    locked = pins()
    requirements = [
        *project["project"]["dependencies"],
        *project["build-system"]["requires"],
        *(r for extra in project["project"]["optional-dependencies"].values() for r in extra),
    ]
    for requirement in requirements:
        name = canonicalize_name(re.split(r"[<>=!~\[; ]", requirement, maxsplit=1)[0])
        if name != "llmgine":
            assert name in locked, requirement


@pytest.mark.skipif(
    os.environ.get("LLMGINE_UNLOCKED") == "1", reason="make test-latest runs unlocked"
)
def test_the_environment_is_exactly_the_lock() -> None:
    locked = pins()
    installed = {
        canonicalize_name(dist.metadata["Name"]): dist.version
        for dist in importlib.metadata.distributions()
    }
    extra = set(installed) - set(locked) - {"llmgine", "pip", "setuptools"}
    assert not extra, f"installed but not locked: {sorted(extra)}"
    for name, (version, marker) in locked.items():
        if marker is None or Marker(marker).evaluate():
            assert installed.get(name) == version, name
