"""API keys: from the environment or a ``.env`` file, read at the first call."""

from __future__ import annotations

import os

from llmgine.errors import MissingAPIKeyError
from llmgine.providers.catalog import ProviderSpec

__all__ = ["api_key_for", "key_source", "load_dotenv_once"]

_loaded = False
#: Variables the ``.env`` file set (not already in the environment) -> the file's path.
_from_dotenv: dict[str, str] = {}


def load_dotenv_once() -> None:
    """Load ``.env`` from the working directory (or a parent) once per process.

    Variables already set win over the file. Called at the first model call,
    never at import. Secrets it brings are added to the log redactor.
    """
    global _loaded
    if _loaded:
        return
    _loaded = True
    from dotenv import dotenv_values, find_dotenv, load_dotenv

    path = find_dotenv(usecwd=True)
    if not path:
        return
    before = set(os.environ)
    if load_dotenv(path, override=False):
        for variable in dotenv_values(path):
            if variable not in before and variable in os.environ:
                _from_dotenv[variable] = path
        from llmgine.observability.redaction import default_redactor

        default_redactor().refresh()


def key_source(variable: str) -> str | None:
    """Where ``variable`` is set: ``"environment"``, ``".env file <path>"``, or None (unset).

    Loads the ``.env`` file first (once), as a model call would.
    """
    load_dotenv_once()
    if not os.environ.get(variable):
        return None
    path = _from_dotenv.get(variable)
    return f".env file {path}" if path else "environment"


def api_key_for(spec: ProviderSpec, model: str, explicit: str | None = None) -> str:
    """The key to use for ``spec``: ``explicit``, else the first of its variables that is set.

    Raises:
        MissingAPIKeyError: the provider needs a key and none is set.
    """
    if explicit:
        return explicit
    load_dotenv_once()
    for variable in spec.key_env:
        value = os.environ.get(variable)
        if value:
            return value
    if not spec.key_required:
        return "not-needed"  # local servers accept any key; the SDKs insist on one
    raise MissingAPIKeyError(spec.key_env[0], spec.name, model)
