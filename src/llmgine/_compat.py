"""The seed's import paths, kept working in one place, each with a ``DeprecationWarning``.

Code written against the early LLMgine imports ``llmgine.llm.tools.tool_manager``,
``llmgine.ui.cli.cli``, ``llmgine.bus.fakes``... Those modules no longer exist:
an import hook (installed by ``import llmgine``) answers each old name with the
module that took its place, warns once per name where it is imported, and never
creates a second copy of a module (so classes stay identical under both names).

``OLD_PACKAGES`` maps old package prefixes (every module below them too);
``OLD_MODULES`` maps single modules. This module is the only place that knows
the old names; it imports the new modules lazily, when an old name is used.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import sys
import types
import warnings
from collections.abc import Sequence

__all__ = ["OLD_MODULES", "OLD_PACKAGES", "install"]

#: Old package -> new package; ``old.x.y`` is ``new.x.y``.
OLD_PACKAGES: dict[str, str] = {
    "llmgine.llm.tools": "llmgine.tools",
    "llmgine.llm.context": "llmgine.context",
    "llmgine.llm.models": "llmgine.models",
    "llmgine.llm.providers": "llmgine.providers",
    "llmgine.ui.cli": "llmgine.cli",
}

#: Old module -> the module holding its names now.
OLD_MODULES: dict[str, str] = {
    "llmgine.llm": "llmgine.models",
    "llmgine.llm.response": "llmgine.models.response",
    "llmgine.llm.events": "llmgine.models.events",
    "llmgine.llm.pricing": "llmgine.models.pricing",
    "llmgine.llm.retry": "llmgine.models.retry",
    "llmgine.llm.models.openai_models": "llmgine.models.presets",
    "llmgine.llm.models.anthropic_models": "llmgine.models.presets",
    "llmgine.llm.providers.events": "llmgine.models.events",
    "llmgine.llm.providers.providers": "llmgine.providers.catalog",
    "llmgine.testing.models": "llmgine.testing",
    "llmgine.llm.tools.tool_manager": "llmgine.tools.manager",
    "llmgine.llm.tools.tool_events": "llmgine.tools.events",
    "llmgine.llm.engine": "llmgine.engines.base",
    "llmgine.llm.engine.engine": "llmgine.engines.base",
    "llmgine.bus.fakes": "llmgine.testing.fakes",
    "llmgine.observability.handlers": "llmgine.observability",
    "llmgine.engines.launcher": "llmgine.cli.launcher",
    "llmgine.ui": "llmgine.cli",
}


def _new_name(old: str) -> str | None:
    if old in OLD_MODULES:
        return OLD_MODULES[old]
    for prefix, new in OLD_PACKAGES.items():
        if old == prefix or old.startswith(prefix + "."):
            return new + old[len(prefix) :]
    return None


def _warn(old: str, new: str) -> None:
    """Warn at the first frame outside the import machinery (the ``import`` line)."""
    frame = sys._getframe(1)
    while frame is not None and (
        frame.f_code.co_filename.startswith("<frozen importlib")
        or frame.f_globals.get("__name__") == __name__
        or frame.f_globals.get("__name__", "").startswith("importlib")
    ):
        frame = frame.f_back  # type: ignore[assignment]
    message = f"{old} is deprecated: import from {new} instead"
    if frame is None:
        warnings.warn(message, DeprecationWarning, stacklevel=2)
        return
    warnings.warn_explicit(
        message,
        DeprecationWarning,
        frame.f_code.co_filename,
        frame.f_lineno,
        module=frame.f_globals.get("__name__"),
        registry=frame.f_globals.setdefault("__warningregistry__", {}),
        module_globals=frame.f_globals,
    )


class _Alias(importlib.abc.Loader):
    """Loads an old name as the new module itself (no copy), warning as it does."""

    def __init__(self, new: str) -> None:
        self.new = new

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> types.ModuleType:
        _warn(spec.name, self.new)
        return importlib.import_module(self.new)

    def exec_module(self, module: types.ModuleType) -> None:
        """Nothing to run: the new module is already imported."""


class _SeedPathFinder(importlib.abc.MetaPathFinder):
    """Finds the seed's module names and answers them with their new modules."""

    def find_spec(
        self,
        fullname: str,
        path: Sequence[str] | None,
        target: types.ModuleType | None = None,
    ) -> importlib.machinery.ModuleSpec | None:
        new = _new_name(fullname)
        if new is None:
            return None
        return importlib.machinery.ModuleSpec(fullname, _Alias(new), is_package=True)


_FINDER = _SeedPathFinder()


def install() -> None:
    """Put the finder first on ``sys.meta_path`` (idempotent)."""
    if _FINDER not in sys.meta_path:
        sys.meta_path.insert(0, _FINDER)
