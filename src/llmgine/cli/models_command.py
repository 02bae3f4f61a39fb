"""``llmgine models``: the providers, the presets, which keys are set, the default model."""

from __future__ import annotations

import json
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from llmgine.engines.defaults import DEFAULT_MODELS
from llmgine.models.presets import PresetModel
from llmgine.models.registry import OFFLINE_MODELS
from llmgine.providers.catalog import PROVIDERS
from llmgine.providers.credentials import key_source

__all__ = ["default_choice", "models_report", "show_models"]

_OFFLINE = {
    "demo": "offline demo model: picks tools from your words (the fallback without a key)",
    "test": "offline TestModel for tests: calls every tool with schema-valid arguments",
}


def _presets() -> list[type[PresetModel]]:
    found: list[type[PresetModel]] = []
    pending = list(PresetModel.__subclasses__())
    while pending:
        preset = pending.pop(0)
        found.append(preset)
        pending.extend(preset.__subclasses__())
    return found


def default_choice() -> dict[str, str]:
    """The model used when none is given, and why (keys are read as a model call would)."""
    for variable, name in DEFAULT_MODELS:
        source = key_source(variable)
        if source:
            return {"model": name, "reason": f"{variable} is set in the {source}"}
    return {"model": "demo", "reason": "no provider key is set, so the offline demo model"}


def models_report() -> dict[str, Any]:
    """Everything ``llmgine models`` shows, as plain data (no key values, only where they are)."""
    providers = []
    for spec in PROVIDERS.values():
        sources = {variable: key_source(variable) for variable in spec.key_env}
        found = next(((v, s) for v, s in sources.items() if s), None)
        providers.append(
            {
                "provider": spec.name,
                "wire": spec.wire,
                "key_variables": list(spec.key_env),
                "key_required": spec.key_required,
                "key_set": found is not None,
                "key_source": f"{found[0]} from the {found[1]}" if found else None,
                "base_url": spec.effective_base_url() or None,
            }
        )
    for name in OFFLINE_MODELS:
        providers.append(
            {
                "provider": name,
                "wire": "offline",
                "key_variables": [],
                "key_required": False,
                "key_set": False,
                "key_source": None,
                "base_url": None,
                "description": _OFFLINE[name],
            }
        )
    presets = {
        preset.__name__: [f"{provider}:{model}" for provider, model in preset.model_ids.items()]
        for preset in _presets()
    }
    return {
        "providers": providers,
        "presets": presets,
        "default": default_choice(),
        "default_order": [{"key": variable, "model": name} for variable, name in DEFAULT_MODELS],
    }


def _key_cell(provider: dict[str, Any]) -> Text:
    variables = " or ".join(provider["key_variables"])
    if provider["key_set"]:
        return Text(f"set: {provider['key_source']}", style="green")
    if not provider["key_required"]:
        return Text(f"not needed ({variables} if set)", style="dim")
    return Text(f"{variables} not set", style="yellow")


def show_models(as_json: bool = False, console: Console | None = None) -> int:
    """Print the report (tables, or JSON with ``as_json``); the exit code (0)."""
    report = models_report()
    if as_json:
        print(json.dumps(report, indent=2))
        return 0
    console = console or Console()
    table = Table(title="Providers (model strings are provider:model)", title_justify="left")
    table.add_column("provider", style="bold cyan", no_wrap=True)
    table.add_column("API key", overflow="fold")
    table.add_column("base URL", style="dim", overflow="fold")
    offline = []
    for provider in report["providers"]:
        if provider["wire"] == "offline":
            offline.append(provider)
            continue
        table.add_row(provider["provider"], _key_cell(provider), provider["base_url"] or "")
    console.print(table)
    console.print(Text("Offline models (no key, no network):", style="bold"))
    for provider in offline:
        console.print(
            Text.assemble("  ", (provider["provider"], "bold cyan"), " - ", provider["description"])
        )
    presets = Table(title="Presets (the seed's model classes)", title_justify="left")
    presets.add_column("class", style="bold", no_wrap=True)
    presets.add_column("provider:model", overflow="fold")
    for name, models in report["presets"].items():
        presets.add_row(name, ", ".join(models))
    console.print(presets)
    default = report["default"]
    console.print(
        Text.assemble(
            ("Default model: ", "bold"),
            (default["model"], "bold green"),
            f" ({default['reason']})",
        )
    )
    order = ", ".join(item["model"] for item in report["default_order"])
    console.print(
        Text(f"Without --model: the first of {order} whose key is set, else demo.", style="dim")
    )
    return 0
