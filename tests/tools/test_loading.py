"""Finding @tool functions in files, folders, modules and packages; errors name user files."""

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from llmgine.errors import ToolDefinitionError
from llmgine.tools.loading import collect_tools

TOOL = '''
from llmgine import tool

@tool
def {name}(text: str) -> str:
    """{doc}

    Args:
        text: The text.
    """
    return text
'''


def write_tool(path: Path, name: str, doc: str = "Do something with the text.") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(TOOL.format(name=name, doc=doc))
    return path


def names(sources: list[object]) -> list[str]:
    return [function.__name__ for function in collect_tools(sources)]


@pytest.fixture
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    before = set(sys.modules)
    yield tmp_path
    for name in set(sys.modules) - before:  # the packages these tests import
        del sys.modules[name]


def test_a_folder_loads_every_file_that_defines_tools(in_tmp: Path) -> None:
    write_tool(in_tmp / "kit" / "b_second.py", "second")
    write_tool(in_tmp / "kit" / "a_first.py", "first")
    (in_tmp / "kit" / "helpers.py").write_text("def helper():\n    return 1\n")
    assert names(["kit"]) == ["first", "second"]
    assert names([str(in_tmp / "kit")]) == ["first", "second"]


def test_a_package_name_loads_its_modules(in_tmp: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    package = in_tmp / "lib" / "pkg_tools"
    package.mkdir(parents=True)
    monkeypatch.syspath_prepend(str(in_tmp / "lib"))
    (package / "__init__.py").write_text("")
    write_tool(package / "text.py", "echo")
    write_tool(package / "sub" / "deep.py", "deep")
    (package / "sub" / "__init__.py").write_text("")
    # A module that imports another one's tool does not register it twice.
    (package / "again.py").write_text("from pkg_tools.text import echo\n")
    assert sorted(names(["pkg_tools"])) == ["deep", "echo"]


def test_the_same_file_twice_is_one_set_of_tools(in_tmp: Path) -> None:
    write_tool(in_tmp / "one.py", "only")
    assert names(["one.py", str(in_tmp / "one.py"), ["one.py"]]) == ["only"]


def test_errors_name_the_file_the_user_wrote(in_tmp: Path) -> None:
    (in_tmp / "tools").mkdir()
    (in_tmp / "tools" / "nodoc.py").write_text(
        "from llmgine import tool\n\n@tool\ndef add(a: int, b: int) -> int:\n    return a + b\n"
    )
    from llmgine.tools.schema import build_tool

    (function,) = collect_tools(["tools/nodoc.py"])
    with pytest.raises(ToolDefinitionError) as info:
        build_tool(function)
    assert str(info.value).startswith("tools/nodoc.py: add has no description")
    assert "llmgine_tools_" not in str(info.value)


def test_a_file_that_fails_to_import_is_named(in_tmp: Path) -> None:
    (in_tmp / "broken.py").write_text("import no_such_module_xyz\n")
    with pytest.raises(ToolDefinitionError, match=r"^loading tools from broken.py failed: "):
        collect_tools(["broken.py"])


def test_a_folder_without_tools_says_so(in_tmp: Path) -> None:
    (in_tmp / "empty").mkdir()
    (in_tmp / "empty" / "notes.py").write_text("x = 1\n")
    with pytest.raises(ToolDefinitionError, match=r"^empty/ \(no .py file in it defines one\)"):
        collect_tools(["empty"])


def test_the_example_tools_folder(monkeypatch: pytest.MonkeyPatch) -> None:
    root = Path(__file__).resolve().parents[2]
    monkeypatch.chdir(root)
    assert names(["tools"]) == ["get_weather", "get_forecast"]
