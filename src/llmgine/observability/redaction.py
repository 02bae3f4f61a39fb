"""Masking secrets before anything is logged.

Two rules, applied to every dict an observability handler writes:

* a value whose key names a secret (``api_key``, ``authorization``,
  ``password``, ``*_token``, ...) is replaced whole by ``"***"``;
* inside any string, text that looks like a credential (``sk-...``,
  ``AIza...``, ``Bearer ...``, ...) or equals the value of a secret-named
  environment variable (``OPENAI_API_KEY``, ``*_TOKEN``, ...) becomes ``"***"``.
  Dict keys are strings too: a key that holds a credential is masked the same
  way (keys that mask alike get a ``#2``, ``#3`` ... suffix, so no value is lost).

Usage counters such as ``prompt_tokens`` are not secrets and stay readable.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import enum
import os
import re
from collections.abc import Iterable, Mapping
from typing import Any

__all__ = ["MASK", "Redactor", "default_redactor", "is_secret_key"]

MASK = "***"

_SECRET_KEYS = frozenset(
    {
        "api_key", "apikey", "x_api_key", "api_token", "x_goog_api_key",
        "authorization", "proxy_authorization", "cookie", "set_cookie",
        "password", "passwd", "secret", "access_token", "refresh_token",
        "id_token", "auth_token", "bearer_token", "session_token", "client_secret",
        "private_key", "secret_key", "access_key", "credentials",
    }
)  # fmt: skip
_SECRET_SUFFIXES = (
    "_api_key", "_apikey", "_password", "_passwd", "_secret", "_token",
    "_secret_key", "_access_key", "_private_key", "_credentials",
)  # fmt: skip

# Each pattern must start a word: "risk-assessment-..." is not an "sk-" key.
_KEY_PATTERNS = [
    r"sk-(?:ant-|proj-|or-v1-|or-)?[A-Za-z0-9_\-]{16,}",  # OpenAI, Anthropic, OpenRouter
    r"AIza[0-9A-Za-z_\-]{30,}",  # Google
    r"xai-[A-Za-z0-9]{20,}",  # xAI
    r"gsk_[A-Za-z0-9]{20,}",  # Groq
    r"gh[pousr]_[A-Za-z0-9]{20,}",  # GitHub
    r"github_pat_[A-Za-z0-9_]{20,}",
    r"hf_[A-Za-z0-9]{20,}",  # Hugging Face
    r"AKIA[0-9A-Z]{16}",  # AWS access key id
    r"xox[abprs]-[A-Za-z0-9\-]{10,}",  # Slack
    r"(?<=[Bb]earer )[A-Za-z0-9._~+/\-]{12,}=*",
]
_MIN_SECRET_LEN = 8
_KEY_CACHE: dict[str, bool] = {}
# Framework-made values that never carry user text.
_SAFE_FIELDS = frozenset({"event_id", "command_id", "parent_id", "trace_id", "timestamp"})
_SAFE_METADATA = frozenset({"emitted_from", "finished_in"})
_PLAIN = frozenset({int, float, bool, type(None), _dt.datetime, _dt.date})
_MAX_CHECK_DEPTH = 16


def is_secret_key(key: str) -> bool:
    """True if a dict key or field name says its value is a secret."""
    try:
        return _KEY_CACHE[key]
    except KeyError:
        pass
    norm = key.lower().replace("-", "_")
    secret = norm in _SECRET_KEYS or norm.endswith(_SECRET_SUFFIXES)
    if len(_KEY_CACHE) < 10_000:
        _KEY_CACHE[key] = secret
    return secret


def _env_secrets(environ: Mapping[str, str]) -> list[str]:
    return [
        value
        for name, value in environ.items()
        if len(value) >= _MIN_SECRET_LEN and is_secret_key(name)
    ]


class Redactor:
    """Masks secrets in JSON-like data (see the module docstring for the rules).

    Args:
        extra_values: Literal secrets to mask wherever they appear.
        use_environment: Also mask the values of secret-named environment
            variables, read now and again on :meth:`refresh`.
    """

    def __init__(self, extra_values: Iterable[str] = (), *, use_environment: bool = True) -> None:
        self._extra = [v for v in extra_values if len(v) >= _MIN_SECRET_LEN]
        self._use_environment = use_environment
        self.refresh()

    def refresh(self) -> None:
        """Re-read secret values from the environment (after loading a ``.env`` file)."""
        literals = list(self._extra)
        if self._use_environment:
            literals += _env_secrets(os.environ)
        # Longest first, so a secret that contains another is masked whole.
        parts = [re.escape(v) for v in sorted(set(literals), key=len, reverse=True)]
        keys = "|".join(_KEY_PATTERNS)
        self._pattern = re.compile("|".join([*parts, rf"(?<![A-Za-z0-9_\-])(?:{keys})"]))

    def redact_text(self, text: str) -> str:
        """Return ``text`` with anything that looks like a credential masked."""
        if len(text) < _MIN_SECRET_LEN:
            return text
        return self._pattern.sub(MASK, text)

    def _key_needs_mask(self, key: str) -> bool:
        return len(key) >= _MIN_SECRET_LEN and self._pattern.search(key) is not None

    def needs_redaction(self, value: Any, _depth: int = 0) -> bool:
        """True unless ``value`` provably holds nothing to mask.

        Walks strings, containers and dataclass fields (framework id and
        timestamp fields are skipped). Values it cannot see into - messages
        nested in messages, exceptions, arbitrary objects - answer True, so
        they take the careful path (``to_dict`` then :meth:`redact`).
        """
        cls = type(value)
        if _depth == 0:
            names = _CHECKED_FIELDS.get(cls, _UNKNOWN)
            if names is _UNKNOWN:
                names = _checked_fields(cls)
            if names is not None:  # a dataclass: check its fields' values
                search = self._pattern.search
                for name in names:
                    item = getattr(value, name)
                    kind = type(item)
                    if kind is str:
                        if len(item) >= _MIN_SECRET_LEN and search(item) is not None:
                            return True
                    elif kind is dict:  # metadata, inlined: every message has one
                        for key, sub in item.items():
                            if key in _SAFE_METADATA:
                                continue
                            if (
                                type(key) is not str
                                or is_secret_key(key)
                                or self._key_needs_mask(key)
                                or self.needs_redaction(sub, 2)
                            ):
                                return True
                    elif kind not in _PLAIN and self.needs_redaction(item, 1):
                        return True
                return False
        if cls is str:
            return len(value) >= _MIN_SECRET_LEN and self._pattern.search(value) is not None
        if cls in _PLAIN:
            return False
        if _depth > _MAX_CHECK_DEPTH:
            return True
        depth = _depth + 1
        if cls is dict:
            for key, item in value.items():
                if type(key) is not str:
                    return True
                if key in _SAFE_METADATA:
                    continue
                if (
                    is_secret_key(key)
                    or self._key_needs_mask(key)
                    or self.needs_redaction(item, depth)
                ):
                    return True
            return False
        if cls is list or cls is tuple:
            return any(self.needs_redaction(item, depth) for item in value)
        if isinstance(value, enum.Enum):
            return self.needs_redaction(value.value, depth)
        return True

    def redact(self, data: Any) -> Any:
        """Return ``data`` with secrets masked; dicts and lists are changed in place."""
        if isinstance(data, str):
            return self.redact_text(data)
        if isinstance(data, dict):
            masked_keys = False
            for key, value in data.items():
                if type(key) is str and self._key_needs_mask(key):
                    masked_keys = True
                if type(key) is str and is_secret_key(key):
                    if value is not None and value != "":
                        data[key] = MASK
                elif type(value) is str:
                    if len(value) >= _MIN_SECRET_LEN:
                        data[key] = self._pattern.sub(MASK, value)
                elif isinstance(value, dict | list):
                    self.redact(value)
            if masked_keys:
                self._mask_keys(data)
            return data
        if isinstance(data, list):
            for index, value in enumerate(data):
                if type(value) is str:
                    if len(value) >= _MIN_SECRET_LEN:
                        data[index] = self._pattern.sub(MASK, value)
                elif isinstance(value, dict | list):
                    self.redact(value)
            return data
        return data

    def _mask_keys(self, data: dict[Any, Any]) -> None:
        """Mask credentials in ``data``'s keys, in place and in order, keeping every value."""
        items = list(data.items())
        data.clear()
        for key, value in items:
            if type(key) is str and self._key_needs_mask(key):
                key = self._pattern.sub(MASK, key)
            base, number = key, 1
            while key in data:  # two keys that mask alike: both values are kept
                number += 1
                key = f"{base}#{number}"
            data[key] = value


_UNKNOWN: Any = object()
# Per class: the fields whose values need a look, or None when the class is not
# a dataclass or has a secret-named field (it always takes the careful path).
_CHECKED_FIELDS: dict[type, tuple[str, ...] | None] = {}


def _checked_fields(cls: type) -> tuple[str, ...] | None:
    names: tuple[str, ...] | None = None
    if dataclasses.is_dataclass(cls):
        all_names = [f.name for f in dataclasses.fields(cls)]
        if not any(is_secret_key(name) for name in all_names):
            names = tuple(name for name in all_names if name not in _SAFE_FIELDS)
    _CHECKED_FIELDS[cls] = names
    return names


_DEFAULT: Redactor | None = None


def default_redactor() -> Redactor:
    """The shared :class:`Redactor` (environment secrets read at first use)."""
    global _DEFAULT
    if _DEFAULT is None:
        _DEFAULT = Redactor()
    return _DEFAULT
