"""Finding ``@tool`` functions in what a user points at: functions, modules, files, folders.

``ToolManager.register_tools(...)`` and the command lines' ``--tools`` accept
any of these. Errors name what the user wrote (``tools/nodoc.py``), never the
internal name a file is imported under.
"""

from __future__ import annotations

import importlib
import importlib.util
import pkgutil
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from types import ModuleType
from typing import Any

from llmgine.errors import ToolDefinitionError
from llmgine.tools.definition import tool_options

__all__ = ["collect_tools", "display_path"]

#: Prefix of the names that ``.py`` files given by path are imported under.
FILE_MODULE_PREFIX = "llmgine_tools_"


def display_path(path: str | Path) -> str:
    """``path`` as the user would write it: relative to the working directory when inside it."""
    resolved = Path(path).resolve()
    try:
        return str(resolved.relative_to(Path.cwd()))
    except ValueError:
        return str(resolved)


def collect_tools(sources: Iterable[Any]) -> list[Callable[..., Any]]:
    """The functions to register for ``sources``, each once, in order.

    A source may be a function, a list of sources, a module, a module or
    package path (``"tools.weather"``, ``"tools"``: every module of the
    package), a ``.py`` file or a folder (every ``.py`` file in it that
    defines ``@tool`` functions). From modules, files and folders the
    functions marked ``@tool`` are taken, in definition order.

    Raises:
        ToolDefinitionError: a source cannot be loaded or holds no tools.
    """
    functions: list[Callable[..., Any]] = []
    seen: set[int] = set()
    for function in _expand(sources):
        if id(function) not in seen:  # a tool imported by a second module counts once
            seen.add(id(function))
            functions.append(function)
    return functions


def _expand(sources: Iterable[Any]) -> Iterable[Callable[..., Any]]:
    for source in sources:
        if isinstance(source, list | tuple | set):
            yield from _expand(source)
        elif isinstance(source, ModuleType):
            yield from _required(_module_tools(source), _module_label(source))
        elif isinstance(source, str | Path):
            yield from _from_text(str(source))
        elif callable(source):
            yield source
        else:
            raise ToolDefinitionError(
                f"cannot register {source!r} as tools: give functions, modules, module "
                "paths, .py files or folders"
            )


def _from_text(source: str) -> list[Callable[..., Any]]:
    path = Path(source)
    if path.is_dir():
        found: list[Callable[..., Any]] = []
        for file in sorted(path.glob("*.py")):
            found.extend(_module_tools(_load_file(file)))
        return _required(found, f"{display_path(path)}/ (no .py file in it defines one)")
    if source.endswith(".py") or path.is_file():
        if not path.is_file():
            raise ToolDefinitionError(f"tool file {source!r} does not exist")
        return _required(_module_tools(_load_file(path)), display_path(path))
    module = _import(source)
    found = _module_tools(module)
    if hasattr(module, "__path__"):  # a package: its modules too
        for info in pkgutil.walk_packages(module.__path__, prefix=f"{module.__name__}."):
            found.extend(_module_tools(_import(info.name)))
    return _required(found, source)


def _required(found: list[Callable[..., Any]], label: str) -> list[Callable[..., Any]]:
    if not found:
        raise ToolDefinitionError(
            f"{label} has no @tool functions; decorate the functions to offer with @tool "
            "(from llmgine import tool)"
        )
    return found


def _module_label(module: ModuleType) -> str:
    file = getattr(module, "__file__", None)
    if file and module.__name__.startswith(FILE_MODULE_PREFIX):
        return display_path(file)
    return module.__name__


def _module_tools(module: ModuleType) -> list[Callable[..., Any]]:
    found = [
        value
        for value in vars(module).values()
        if callable(value) and tool_options(value) is not None
    ]
    # Definition order, where the source tells it.
    return sorted(found, key=lambda fn: getattr(getattr(fn, "__code__", None), "co_firstlineno", 0))


def _load_file(path: Path) -> ModuleType:
    shown = display_path(path)
    name = f"{FILE_MODULE_PREFIX}{path.stem}_{abs(hash(path.resolve()))}"
    if name in sys.modules:  # loaded before (a file named twice, or by a folder and by path)
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ToolDefinitionError(f"cannot load tools from {shown}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        sys.modules.pop(name, None)
        raise ToolDefinitionError(
            f"loading tools from {shown} failed: {type(exc).__name__}: {exc}"
        ) from exc
    return module


def _import(name: str) -> ModuleType:
    try:
        return importlib.import_module(name)
    except ImportError as exc:
        raise ToolDefinitionError(
            f"cannot import tool module {name!r} ({exc}); give a module path such as "
            "'tools.weather', a .py file or a folder of them"
        ) from exc
    except Exception as exc:
        raise ToolDefinitionError(
            f"importing tool module {name!r} failed: {type(exc).__name__}: {exc}"
        ) from exc
