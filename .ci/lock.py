"""The dependency lock: ``requirements.lock``, a hashed requirements file made by uv.

Usage (the Makefile's ``lock``, ``upgrade`` and ``check-lock`` targets)::

    python3 .ci/lock.py check               # does the lock match pyproject.toml?
    python3 .ci/lock.py compile UV          # refresh the lock after a pyproject change
    python3 .ci/lock.py compile UV --upgrade  # every package to its newest allowed version

The lock holds every package of every extra, the build backend included, each
pinned with the hashes of its files; it names no package index and no URL, so
``pip install --require-hashes -r requirements.lock`` gets exactly these files
from whatever index pip is set up to use. Its first line records a fingerprint
of the dependency tables of ``pyproject.toml``; ``check`` compares it, so a
change to the dependencies without ``make lock`` fails at once instead of
testing something else than what was locked.

Only the standard library is used: ``check`` runs before any virtualenv exists.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = ROOT / "pyproject.toml"
LOCK = ROOT / "requirements.lock"
FINGERPRINT_PREFIX = "# pyproject-fingerprint: "
#: The oldest Python the project supports: the universal lock is resolved from it up.
PYTHON_VERSION = "3.11"


def fingerprint(pyproject: Path = PYPROJECT) -> str:
    """A hash of what the lock is resolved from (dependencies, extras, build backend)."""
    data = tomllib.loads(pyproject.read_text())
    project = data.get("project", {})
    inputs = {
        "requires-python": project.get("requires-python"),
        "dependencies": project.get("dependencies", []),
        "optional-dependencies": project.get("optional-dependencies", {}),
        "build-requires": data.get("build-system", {}).get("requires", []),
    }
    text = json.dumps(inputs, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def recorded_fingerprint(lock: Path = LOCK) -> str | None:
    """The fingerprint written in the lock, or None when there is none."""
    if not lock.is_file():
        return None
    for line in lock.read_text().splitlines():
        if line.startswith(FINGERPRINT_PREFIX):
            return line[len(FINGERPRINT_PREFIX) :].strip()
    return None


def check(pyproject: Path = PYPROJECT, lock: Path = LOCK) -> int:
    """0 when the lock matches pyproject.toml, else 1 with a message saying what to run."""
    recorded = recorded_fingerprint(lock)
    if recorded is None:
        print(
            f"error: {lock.name} is missing or has no fingerprint line; run `make lock`",
            file=sys.stderr,
        )
        return 1
    if recorded != fingerprint(pyproject):
        print(
            f"error: {lock.name} does not match the dependencies in pyproject.toml "
            "(they changed after the lock was made); run `make lock` and commit "
            f"{lock.name}",
            file=sys.stderr,
        )
        return 1
    return 0


def compile_lock(uv: str, upgrade: bool) -> int:
    """Resolve pyproject.toml (all extras) plus the build backend into the lock."""
    data = tomllib.loads(PYPROJECT.read_text())
    build_requires = data.get("build-system", {}).get("requires", [])
    with tempfile.TemporaryDirectory() as tmp:
        build_in = Path(tmp) / "build-requirements.in"
        build_in.write_text("\n".join(build_requires) + "\n")
        output = Path(tmp) / "requirements.lock"
        if LOCK.is_file() and not upgrade:
            # uv keeps the versions of an existing output file where they still fit.
            output.write_text(LOCK.read_text())
        command = [
            uv,
            "pip",
            "compile",
            str(PYPROJECT.relative_to(ROOT)),
            str(build_in),
            "--all-extras",
            "--generate-hashes",
            "--universal",
            "--python-version",
            PYTHON_VERSION,
            "--no-emit-index-url",
            "--no-emit-find-links",
            "--custom-compile-command",
            "make lock",
            "--quiet",
            "-o",
            str(output),
        ]
        if upgrade:
            command.append("--upgrade")
        result = subprocess.run(command, cwd=ROOT)
        if result.returncode != 0:
            return result.returncode
        body = output.read_text().replace(str(build_in), "build-system.requires")
    LOCK.write_text(f"{FINGERPRINT_PREFIX}{fingerprint()}\n{body}")
    print(f"wrote {LOCK.name}")
    return 0


def main(argv: list[str]) -> int:
    """Run the sub-command in ``argv``."""
    if argv[:1] == ["check"]:
        return check()
    if argv[:1] == ["compile"] and len(argv) >= 2:
        return compile_lock(argv[1], upgrade="--upgrade" in argv[2:])
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
