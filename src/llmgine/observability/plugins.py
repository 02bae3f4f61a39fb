"""Observability handlers as plugins: found by name under the ``llmgine.observers`` entry points.

A package offers a handler by declaring an entry point in the group
``llmgine.observers`` (in its ``pyproject.toml``)::

    [project.entry-points."llmgine.observers"]
    datadog = "my_package.observers:DatadogHandler"

The object named is an :class:`~llmgine.observability.base.ObservabilityEventHandler`
subclass or any callable returning one; it is called with the options given
(``ApplicationConfig.observer_options["datadog"]``), none by default. Enable it
with ``--observer datadog`` on the command line or
``ApplicationConfig(observers=["datadog"])``. LLMgine declares its own handlers
the same way: ``console``, ``jsonl`` and ``otel``.
"""

from __future__ import annotations

from importlib.metadata import EntryPoint, entry_points
from typing import Any

from llmgine.errors import ConfigurationError
from llmgine.observability.base import ObservabilityEventHandler

__all__ = ["GROUP", "ObserverPluginError", "available_observers", "load_observer"]

#: The entry point group observability plugins are declared in.
GROUP = "llmgine.observers"


class ObserverPluginError(ConfigurationError):
    """An observer plugin is unknown, cannot be loaded, or gives no handler."""


def available_observers() -> dict[str, EntryPoint]:
    """The observer plugins installed, by name (read from the installed packages now)."""
    return {point.name: point for point in entry_points(group=GROUP)}


def _origin(point: EntryPoint) -> str:
    dist = getattr(point, "dist", None)
    name = getattr(dist, "name", None)
    return f"{point.value} (from {name})" if name else point.value


def load_observer(name: str, **options: Any) -> ObservabilityEventHandler:
    """The handler the plugin ``name`` makes, called with ``options``.

    Raises:
        ObserverPluginError: no installed package declares ``name``, its
            object cannot be imported or fails to build, or it is not an
            observability handler. The message says which and what is installed.
    """
    found = available_observers()
    point = found.get(name)
    if point is None:
        known = ", ".join(sorted(found)) or "none"
        raise ObserverPluginError(
            f"no observer plugin is named {name!r} (installed: {known}); a package declares "
            f"one under the {GROUP!r} entry points"
        )
    try:
        factory = point.load()
    except Exception as exc:  # a plugin's import failing is its message, not ours
        raise ObserverPluginError(
            f"observer plugin {name!r} = {_origin(point)} cannot be loaded: "
            f"{type(exc).__name__}: {exc}"
        ) from exc
    try:
        handler = factory(**options)
    except ConfigurationError as exc:  # e.g. the otel extra is not installed
        raise ObserverPluginError(f"observer plugin {name!r}: {exc}") from exc
    except Exception as exc:
        raise ObserverPluginError(
            f"observer plugin {name!r} = {_origin(point)} failed to start: "
            f"{type(exc).__name__}: {exc}"
        ) from exc
    if not isinstance(handler, ObservabilityEventHandler):
        raise ObserverPluginError(
            f"observer plugin {name!r} = {_origin(point)} gave a {type(handler).__name__}, "
            "not an ObservabilityEventHandler"
        )
    return handler
