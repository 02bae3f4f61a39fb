"""``llmgine models --check``: one tiny request to each configured model, in parallel.

A model is configured when its provider's key is set (the default model of
each such provider, see ``llmgine models``); ``--model`` names others. Each is
asked for one word within ``--timeout`` seconds; the table shows which
answered. Exit code 0 when all answered (or nothing was configured), 1 when
one did not.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence

from rich.console import Console
from rich.table import Table
from rich.text import Text

from llmgine.cli._util import one_line
from llmgine.engines.defaults import DEFAULT_MODELS
from llmgine.models.availability import Availability, check_models
from llmgine.providers.credentials import key_source

__all__ = ["configured_models", "run_check"]


def configured_models() -> list[str]:
    """The default model of every provider whose key is set (environment or ``.env``)."""
    return [name for variable, name in DEFAULT_MODELS if key_source(variable)]


def run_check(
    models: Sequence[str] = (),
    *,
    timeout: float = 20.0,
    as_json: bool = False,
    console: Console | None = None,
) -> int:
    """Check ``models`` (default: the configured ones); print the results; the exit code."""
    console = console or Console()
    chosen = list(models) or configured_models()
    if not chosen:
        variables = ", ".join(variable for variable, _ in DEFAULT_MODELS)
        message = (
            f"No model is configured: none of {variables} is set (in the environment or a "
            ".env file), so there is nothing to check. Set a key, or name models with --model."
        )
        if as_json:
            print(json.dumps({"configured": [], "results": [], "message": message}, indent=2))
        else:
            console.print(Text(message, style="yellow"), soft_wrap=True)
        return 0
    results = asyncio.run(check_models(chosen, timeout=timeout))
    if as_json:
        print(
            json.dumps({"configured": chosen, "results": [r.to_dict() for r in results]}, indent=2)
        )
    else:
        console.print(_table(results, timeout))
    return 0 if all(result.ok for result in results) else 1


def _table(results: list[Availability], timeout: float) -> Table:
    answered = sum(result.ok for result in results)
    table = Table(
        title=f"Model check: {answered} of {len(results)} answered (timeout {timeout:g} s each)",
        title_justify="left",
    )
    table.add_column("model", style="bold cyan", no_wrap=True)
    table.add_column("answers", no_wrap=True)
    table.add_column("time", justify="right", no_wrap=True)
    table.add_column("answer or error", overflow="fold")
    for result in results:
        if result.ok:
            status = Text("yes", style="green")
            detail = Text(one_line(result.answer or "(an empty answer)", 200))
        else:
            status = Text("no", style="red")
            detail = Text(f"{result.error_type}: {one_line(result.error or '', 300)}", style="red")
        table.add_row(result.model, status, f"{result.seconds:.2f} s", detail)
    return table
