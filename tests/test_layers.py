"""The architecture's rule, read from the source: layers import only downward, and no cycles.

Every ``import`` counts, inside functions and ``TYPE_CHECKING`` blocks too;
only a module's ``if __name__ == "__main__":`` block (a program's entry point,
never run on import) is left out.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"
PACKAGE = SRC / "llmgine"

#: Bottom to top. A module may import its own layer (acyclically) and those below.
LAYERS: list[set[str]] = [
    {"llmgine.errors", "llmgine._version", "llmgine._compat"},
    {"llmgine.messages"},
    {"llmgine.observability"},
    {"llmgine.bus"},
    {"llmgine.distributed"},  # the bus across processes: above the bus, which never imports it
    {"llmgine.providers"},
    {"llmgine.tools"},
    {"llmgine.models"},
    {"llmgine.context"},
    {"llmgine.memory"},
    {"llmgine.engines"},
    {"llmgine.bootstrap", "llmgine.cli", "llmgine.web"},
    {"llmgine"},  # the package's own __init__: the public API
]
#: May import anything; nothing in the package imports them.
FREE = {"llmgine.testing"}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def unit(module: str) -> str:
    """The layer unit of a module: ``llmgine.models.openai`` -> ``llmgine.models``."""
    if module == "llmgine":
        return module
    return ".".join(module.split(".")[:2])


def _is_main_guard(node: ast.AST) -> bool:
    return (
        isinstance(node, ast.If)
        and isinstance(node.test, ast.Compare)
        and isinstance(node.test.left, ast.Name)
        and node.test.left.id == "__name__"
    )


def imports_of(path: Path) -> set[str]:
    """Every llmgine module ``path`` imports (resolved to the module itself)."""
    tree = ast.parse(path.read_text())
    for node in list(tree.body):
        if _is_main_guard(node):
            tree.body.remove(node)
    here = module_name(path)
    is_package = path.name == "__init__.py"
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = here.split(".")
                base = base[: len(base) - node.level + (1 if is_package else 0)]
                module = ".".join([*base, node.module] if node.module else base)
            else:
                module = node.module or ""
            found.add(module)
            for alias in node.names:  # `from llmgine.x import module`
                found.add(f"{module}.{alias.name}")
    known = ALL_MODULES
    return {name for name in found if name in known and name != here}


ALL_MODULES = {module_name(path) for path in PACKAGE.rglob("*.py")}
GRAPH = {module_name(path): imports_of(path) for path in PACKAGE.rglob("*.py")}


def layer_of(module: str) -> int:
    for index, layer in enumerate(LAYERS):
        if unit(module) in layer:
            return index
    raise AssertionError(f"{module} is in no layer: add it to LAYERS or FREE")


def test_every_module_has_a_place() -> None:
    for module in GRAPH:
        if unit(module) not in FREE:
            layer_of(module)


def test_layers_import_only_downward() -> None:
    upward = []
    for module, imported in sorted(GRAPH.items()):
        if unit(module) in FREE:
            continue
        for target in sorted(imported):
            if unit(target) in FREE:
                upward.append(f"{module} imports {target} (nothing may import it)")
            elif layer_of(target) > layer_of(module):
                upward.append(f"{module} imports {target}, a layer above it")
    assert upward == []


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one node (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = [0]

    def visit(node: str) -> None:
        index[node] = low[node] = counter[0]
        counter[0] += 1
        stack.append(node)
        on_stack.add(node)
        for target in graph.get(node, ()):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                item = stack.pop()
                on_stack.discard(item)
                component.append(item)
                if item == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_no_module_cycles() -> None:
    # A package's __init__ re-exports its modules; the modules must not need each other in a ring.
    graph = {
        module: {t for t in targets if t not in _packages()}
        for module, targets in GRAPH.items()
        if module not in _packages()
    }
    assert _cycles(graph) == []


def test_no_package_cycles() -> None:
    units: dict[str, set[str]] = defaultdict(set)
    for module, targets in GRAPH.items():
        for target in targets:
            if unit(target) != unit(module):
                units[unit(module)].add(unit(target))
    assert _cycles(dict(units)) == []


def _packages() -> set[str]:
    return {module_name(path) for path in PACKAGE.rglob("__init__.py")}


def test_the_bus_never_imports_the_distributed_transport() -> None:
    for name, targets in GRAPH.items():
        if unit(name) == "llmgine.bus":
            assert not any(unit(t) == "llmgine.distributed" for t in targets), name


@pytest.mark.parametrize("module", ["llmgine.models", "llmgine.tools", "llmgine.context"])
def test_the_layers_below_the_engines_never_use_the_bus(module: str) -> None:
    for name, targets in GRAPH.items():
        if unit(name) == module:
            assert not any(unit(t) == "llmgine.bus" for t in targets), name
