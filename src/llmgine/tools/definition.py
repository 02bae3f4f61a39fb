"""The ``@tool`` decorator and the ``Tool`` every registered function becomes."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar, overload

__all__ = ["TOOL_OPTIONS_ATTRIBUTE", "Tool", "ToolOptions", "tool", "tool_options"]

F = TypeVar("F", bound=Callable[..., Any])

#: Attribute ``@tool`` sets on the function it marks.
TOOL_OPTIONS_ATTRIBUTE = "__llmgine_tool__"


@dataclass(frozen=True)
class ToolOptions:
    """How a tool is presented and run.

    Attributes:
        name: Name shown to the model (default: the function's name).
        description: Description shown to the model (default: the docstring's summary).
        timeout: Seconds a call may take before it becomes an error result.
        requires_approval: Ask (``ToolApprovalCommand`` on the bus) before each call.
        sequential: Never run at the same time as other calls of the same turn.
        max_concurrency: At most this many calls of this tool at once.
    """

    name: str | None = None
    description: str | None = None
    timeout: float | None = None
    requires_approval: bool = False
    sequential: bool = False
    max_concurrency: int | None = None


@overload
def tool(fn: F) -> F: ...


@overload
def tool(
    fn: None = None,
    *,
    name: str | None = None,
    description: str | None = None,
    timeout: float | None = None,
    requires_approval: bool = False,
    sequential: bool = False,
    max_concurrency: int | None = None,
) -> Callable[[F], F]: ...


def tool(
    fn: F | None = None,
    *,
    name: str | None = None,
    description: str | None = None,
    timeout: float | None = None,
    requires_approval: bool = False,
    sequential: bool = False,
    max_concurrency: int | None = None,
) -> F | Callable[[F], F]:
    """Mark a function as a tool; it stays a normal callable.

    Use as ``@tool`` or ``@tool(name=..., timeout=..., requires_approval=True)``.
    The schema is built from the signature and docstring when the function is
    registered with a :class:`~llmgine.tools.ToolManager`.
    """
    options = ToolOptions(
        name=name,
        description=description,
        timeout=timeout,
        requires_approval=requires_approval,
        sequential=sequential,
        max_concurrency=max_concurrency,
    )

    def mark(function: F) -> F:
        setattr(function, TOOL_OPTIONS_ATTRIBUTE, options)
        return function

    return mark(fn) if fn is not None else mark


def tool_options(fn: Callable[..., Any]) -> ToolOptions | None:
    """The options ``@tool`` gave ``fn``, or None if it is not marked."""
    options = getattr(fn, TOOL_OPTIONS_ATTRIBUTE, None)
    return options if isinstance(options, ToolOptions) else None


@dataclass
class Tool:
    """A function ready to be offered to a model and called.

    Attributes:
        name: Name shown to the model.
        description: What the tool does, for the model.
        parameters: JSON schema of the arguments (an ``object`` schema).
        function: The function itself.
        is_async: Whether ``function`` must be awaited.
        arguments_model: Pydantic model that validates and coerces arguments.
        options: Run options (timeout, approval, concurrency).
        strict: Whether the schema fits OpenAI's strict mode as it is.
        server: The MCP server the tool comes from (None for functions).
        validator: Validates the arguments instead of ``arguments_model`` (MCP
            tools: against their JSON schema); returns the arguments to call
            with, or raises ``ArgumentsError`` with the text for the model.
    """

    name: str
    description: str
    parameters: dict[str, Any]
    function: Callable[..., Any]
    is_async: bool
    arguments_model: Any
    options: ToolOptions = field(default_factory=ToolOptions)
    strict: bool = False
    server: str | None = None
    validator: Callable[[dict[str, Any]], dict[str, Any]] | None = None
