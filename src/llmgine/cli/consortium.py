r"""The consortium from the command line: ``llmgine consortium``.

Also ``python -m llmgine.cli.consortium``.

Several models answer each prompt in parallel and a strategy combines them::

    python -m llmgine.cli.consortium \
        --member openai:gpt-4.1-mini --member anthropic:claude-haiku-4-5 \
        --arbiter openai:gpt-4.1 --strategy arbiter --prompt "Is P = NP?"

Interactive by default: one panel per member as it answers, the arbiter's
confidence per round, then the final answer. ``--prompt`` (or piped text)
answers once and prints only the answer. Without members and without an API
key, two offline demo members and an offline arbiter are used.
"""

from __future__ import annotations

import argparse
import asyncio
import inspect
import json
import os
import re
import sys
from collections.abc import Sequence
from functools import partial
from typing import Any

from rich.console import RenderableType
from rich.markdown import Markdown
from rich.panel import Panel
from rich.text import Text

from llmgine._version import __version__
from llmgine.cli.components import CLIComponent, EngineResultComponent
from llmgine.cli.launcher import (
    UsageError,
    add_observer_option,
    cli_application,
    import_in_background,
    missing_key_warning,
    read_prompt,
)
from llmgine.engines.consortium import (
    ConsortiumCombineEvent,
    ConsortiumEngine,
    ConsortiumIterationEvent,
    ConsortiumMemberEvent,
    use_consortium_engine,
)
from llmgine.engines.consortium.engine import STRATEGIES, strategy_class
from llmgine.engines.defaults import DEFAULT_MODELS
from llmgine.errors import LLMgineError
from llmgine.models.function import CallInfo, FunctionModel
from llmgine.models.interface import Model
from llmgine.models.registry import get_model, known_providers
from llmgine.providers.credentials import load_dotenv_once

__all__ = [
    "ConsortiumCombineComponent",
    "ConsortiumIterationComponent",
    "ConsortiumMemberComponent",
    "add_arguments",
    "add_consortium_options",
    "build_parser",
    "consortium_cli",
    "consortium_from_args",
    "consortium_models",
    "main",
    "run_command",
    "offline_consortium",
    "use_consortium_engine",
]

OFFLINE_NOTICE = (
    "No API key found: using two offline demo members and an offline arbiter (canned "
    "answers). Set OPENAI_API_KEY (or another provider's key) or pass --member provider:model."
)

#: Strategy options with their own command-line flag.
_FLAGGED = ("min_iterations", "max_iterations", "confidence_threshold")

# -- the offline demo --------------------------------------------------------------


def _question(messages: list[dict[str, Any]]) -> str:
    """The user's question, even inside a strategy's review or refinement prompt."""
    texts = [str(m.get("content", "")) for m in messages if m.get("role") == "user"]
    for text in texts:
        found = re.search(r"<question>\s*(.*?)\s*</question>", text, re.S)
        if found:
            texts = [found.group(1)]
            break
    first = texts[0].strip().split("\n", 1)[0].strip() if texts else ""
    return first if len(first) <= 200 else first[:197] + "..."


def _is_review(messages: list[dict[str, Any]]) -> bool:
    text = str(messages[-1].get("content", "")) if messages else ""
    return "AGREE" in text and "DISAGREE" in text


def _brief(messages: list[dict[str, Any]], info: CallInfo) -> str:
    if _is_review(messages):  # a council review: the demo members agree
        return "<status>AGREE</status>\n<text>That answer covers the question.</text>"
    return (
        f"A short answer to \u201c{_question(messages)}\u201d: start with the simplest option "
        "that meets the need, try it, and adjust from what you learn."
    )


def _thorough(messages: list[dict[str, Any]], info: CallInfo) -> str:
    if _is_review(messages):
        return "<status>AGREE</status>\n<text>Agreed; the steps are sound.</text>"
    return (
        f"A fuller answer to \u201c{_question(messages)}\u201d:\n\n"
        "1. Say what a good outcome looks like, so you can tell when you are done.\n"
        "2. List two or three options and what each costs and risks.\n"
        "3. Choose one, and note what would make you change your mind."
    )


def _offline_arbiter(messages: list[dict[str, Any]], info: CallInfo) -> str:
    """Combine the ``<response>`` blocks of the prompt (longest first); confidence 0.9."""
    text = str(messages[-1].get("content", "")) if messages else ""
    found = re.findall(r'<response name="(Response \d+)">\n(.*?)\n</response>', text, re.S)
    if not found:  # an aggregator prompt (moa): keep the most complete reference
        references = re.findall(r"<reference name=\"[^\"]*\">\n?(.*?)\n?</reference>", text, re.S)
        if references:
            return max(references, key=len).strip()
        return _thorough(messages, info)
    ranked = sorted(found, key=lambda pair: len(pair[1]), reverse=True)
    synthesis = ranked[0][1] + "".join(
        f"\n\nAlso worth keeping: {other.splitlines()[0]}" for _, other in ranked[1:]
    )
    verdict = {
        "synthesis": synthesis,
        "confidence": 0.9,
        "analysis": f"{len(found)} responses; the most complete one leads the synthesis.",
        "dissent": "",
        "needs_iteration": False,
        "refinement_areas": [],
        "ranking": [name for name, _ in ranked],
    }
    if info.request.response_format:
        return json.dumps(verdict)
    return (
        f"<synthesis>{synthesis}</synthesis>\n<confidence>0.9</confidence>\n"
        f"<needs_iteration>false</needs_iteration>\n<ranking>{', '.join(verdict['ranking'])}"
        "</ranking>"
    )


def offline_consortium() -> tuple[list[Model], Model]:
    """Two offline demo members (different answers and latencies) and an offline arbiter."""
    members: list[Model] = [
        FunctionModel(_brief, name="demo-brief", latency=0.2),
        FunctionModel(_thorough, name="demo-thorough", latency=0.4),
    ]
    return members, FunctionModel(_offline_arbiter, name="demo-arbiter", latency=0.1)


def _keyed_models() -> list[str]:
    load_dotenv_once()
    return [name for variable, name in DEFAULT_MODELS if os.environ.get(variable)]


# -- the interactive display -----------------------------------------------------------


class ConsortiumMemberComponent(CLIComponent):
    """A member's answer in a panel, or one red line when it failed (nothing when it starts)."""

    def __init__(self, event: ConsortiumMemberEvent) -> None:
        self.event = event

    def renderable(self) -> RenderableType | None:
        """The panel, the failure line, or None."""
        event = self.event
        stage = "" if event.stage in ("", "answer") else f" \u00b7 {event.stage}"
        if event.state == "failed":
            return Text(
                f"\u2717 {event.label} ({event.model}){stage} gave no answer: {event.error}",
                style="red",
            )
        if event.state != "answered":
            return None
        tokens = event.usage.get("total_tokens", 0)
        return Panel(
            Markdown(event.content or "(empty answer)"),
            title=Text(f"{event.label} \u00b7 {event.model}{stage}", style="bold"),
            title_align="left",
            subtitle=Text(f"{event.duration_s:.1f} s \u00b7 {tokens} tokens", style="dim"),
            subtitle_align="right",
            border_style="blue",
        )


class ConsortiumIterationComponent(CLIComponent):
    """One line per arbiter round (MoA layer, council round), with the confidence."""

    def __init__(self, event: ConsortiumIterationEvent) -> None:
        self.event = event

    def renderable(self) -> RenderableType:
        """The line."""
        event = self.event
        line = Text(f"\u25c6 {event.strategy} round {event.iteration}", style="bold magenta")
        if event.confidence is not None:
            style = "green" if event.confidence >= 0.8 else "yellow"
            line.append(f" \u00b7 confidence {event.confidence:.0%}", style=style)
        summary = event.summary
        if event.confidence is not None:  # the summary may repeat the confidence
            summary = summary.replace(f"confidence {event.confidence:.0%}", "").strip(" ,·")
        if summary:
            line.append(f" \u00b7 {summary}", style="dim")
        return line


class ConsortiumCombineComponent(CLIComponent):
    """A line when the combiner fails, gives an unreadable answer, or a fallback is used."""

    def __init__(self, event: ConsortiumCombineEvent) -> None:
        self.event = event

    def renderable(self) -> RenderableType | None:
        """The line, or None for ``started``/``finished``."""
        event = self.event
        styles = {"failed": "red", "unparseable": "yellow", "fallback": "yellow"}
        if event.state not in styles:
            return None
        who = f"{event.model} " if event.model else ""
        label = {"unparseable": "answer unreadable, asking again"}.get(event.state, event.state)
        return Text(f"\u26a0 {who}{label}: {event.reason}", style=styles[event.state])


# -- command line ------------------------------------------------------------------------


DESCRIPTION = (
    "Consortium engine: several models answer in parallel; a strategy (arbiter, "
    "mixture-of-agents, council) combines their answers."
)


def build_parser(
    prog: str = "python -m llmgine.cli.consortium",
) -> argparse.ArgumentParser:
    """The consortium's command line."""
    parser = argparse.ArgumentParser(
        prog=prog,
        description=DESCRIPTION,
        epilog="known providers: " + ", ".join(known_providers()),
    )
    add_arguments(parser)
    return parser


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the consortium's options to ``parser``."""
    add_consortium_options(parser)
    add = parser.add_argument
    add("--prompt", help="answer this prompt once and exit (text piped on stdin works too)")
    add("--no-stream", action="store_true", help="accepted for compatibility: answers come whole")
    add("--log-dir", default="logs", help="where the JSONL event log goes (default: logs)")
    add_observer_option(parser)
    add(
        "--timeout",
        type=float,
        metavar="SECONDS",
        help="seconds each model call may take before it is retried or fails (default: 120)",
    )
    add("--version", action="version", version=f"llmgine {__version__}")


def add_consortium_options(parser: argparse.ArgumentParser | argparse._ArgumentGroup) -> None:
    """Add the options that make up a consortium (members, arbiter, strategy...) to ``parser``.

    What :func:`consortium_from_args` reads, together with ``--timeout``;
    ``llmgine web --engine consortium`` takes them too.
    """
    add = parser.add_argument
    add(
        "--member",
        action="append",
        default=[],
        metavar="PROVIDER:MODEL[:COUNT]",
        help="a member (repeatable), e.g. openai:gpt-4.1-mini:2 for two instances "
        "(default: the providers whose keys are set, else offline demo members)",
    )
    add("--arbiter", help="the combining model (default: the first member's model)")
    add("--backup-arbiter", help="used when the arbiter fails")
    add("--strategy", choices=list(STRATEGIES), default="arbiter", help="(default: arbiter)")
    add("--min-iterations", type=int, help="arbiter: rounds run at least")
    add("--max-iterations", type=int, help="arbiter: rounds run at most")
    add("--confidence-threshold", type=float, help="arbiter: confidence that ends the rounds")
    add(
        "--option",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="another strategy option (repeatable; VALUE is read as JSON when it can be)",
    )
    add("--budget-usd", type=float, help="stop a turn's calls past this many dollars")
    add("--budget-tokens", type=int, help="stop a turn's calls past this many tokens")
    add("--max-concurrency", type=int, default=8, help="members asked at once (default: 8)")
    add("--member-timeout", type=float, default=120, help="seconds per member call (default: 120)")
    add("--member-retries", type=int, default=1, help="extra tries per member (default: 1)")
    add("--seed", type=int, help="seed of the anonymising shuffle")


def _strategy_options(args: argparse.Namespace) -> dict[str, Any]:
    """The strategy options given, checked against what the strategy accepts."""
    options: dict[str, Any] = {
        name: getattr(args, name) for name in _FLAGGED if getattr(args, name) is not None
    }
    for item in args.option:
        name, sep, raw = item.partition("=")
        if not sep or not name.strip():
            raise ValueError(f"--option {item!r}: expected NAME=VALUE")
        try:
            options[name.strip().replace("-", "_")] = json.loads(raw)
        except ValueError:
            options[name.strip().replace("-", "_")] = raw
    parameters = inspect.signature(strategy_class(args.strategy)).parameters
    takes_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values())
    unknown = [name for name in options if name not in parameters and not takes_any]
    if unknown:
        flags = ", ".join("--" + name.replace("_", "-") for name in unknown)
        raise ValueError(f"{flags} does not apply to --strategy {args.strategy}")
    return options


def _models(args: argparse.Namespace) -> tuple[list[Any], Any, str | None]:
    """Members, arbiter and a notice (when the offline demo is used)."""
    arbiter: Any = get_model(args.arbiter) if args.arbiter else None
    if args.member:
        return list(args.member), arbiter, None
    keyed = _keyed_models()
    if len(keyed) == 1:
        return [f"{keyed[0]}:2"], arbiter, None
    if keyed:
        return keyed, arbiter, None
    members, offline_arbiter = offline_consortium()
    return members, arbiter or offline_arbiter, OFFLINE_NOTICE


def consortium_from_args(
    args: argparse.Namespace, session_id: str = "cli"
) -> tuple[ConsortiumEngine, str | None, list[str]]:
    """The consortium the parsed options describe, the offline notice, and key warnings.

    The notice is set when no member is given and no API key is set (offline
    demo members answer); one warning per model whose API key is missing.
    ``--timeout`` is applied to every model.

    Raises:
        LLMgineError: a model name is unknown or the engine cannot be made.
        ValueError: a strategy option is malformed or does not apply.
    """
    members, arbiter, notice = _models(args)
    engine = ConsortiumEngine(
        members,
        arbiter,
        args.strategy,
        backup_arbiter=args.backup_arbiter,
        session_id=session_id,
        max_concurrency=args.max_concurrency,
        member_timeout=args.member_timeout,
        member_retries=args.member_retries,
        budget_tokens=args.budget_tokens,
        budget_usd=args.budget_usd,
        seed=args.seed,
        **_strategy_options(args),
    )
    return engine, notice, _key_warnings(consortium_models(engine), args.timeout)


def consortium_models(engine: ConsortiumEngine) -> list[Model]:
    """Every model the consortium calls: its members', the arbiter, the backup arbiter."""
    models = [member.model for member in engine.members] + [engine.arbiter]
    if engine.backup_arbiter is not None:
        models.append(engine.backup_arbiter)
    return models


async def run(args: argparse.Namespace, prompt: str | None) -> int:
    """Build the consortium and answer once (``prompt``) or interactively; the exit code."""
    try:
        engine, notice, warnings = consortium_from_args(args)
        app = cli_application("ConsortiumEngine", args.log_dir, args.observer)
    except (LLMgineError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    models = consortium_models(engine)
    await app.bootstrap()
    try:
        if prompt is not None:
            for line in warnings:
                print(line, file=sys.stderr)
            return await _answer_once(engine, prompt, notice)
        for model in models:
            import_in_background(model)
        cli = consortium_cli(engine, notice)
        for line in warnings:
            cli.notice(line)
        await cli.main()
        return 0
    finally:
        await app.shutdown()


def _key_warnings(models: list[Model], timeout: float | None) -> list[str]:
    """One warning per distinct model whose key is missing (and apply ``--timeout``)."""
    warnings: dict[str, None] = {}
    for model in models:
        if timeout is not None:
            model.timeout = timeout
        warning = missing_key_warning(model)
        if warning:
            warnings[warning] = None
    return list(warnings)


async def _answer_once(engine: ConsortiumEngine, prompt: str, notice: str | None) -> int:
    if notice:
        print(notice, file=sys.stderr)
    result = await engine.execute(prompt)
    if not result.success:
        print(f"error: {result.error}", file=sys.stderr)
        return 1
    print(result.result)
    meta = result.metadata
    line = f"[{meta['strategy']}: {meta['iterations']} round(s)"
    if meta.get("confidence") is not None:
        line += f", confidence {meta['confidence']:.0%}"
    line += f", {meta['stop_reason']}"
    if meta.get("fallback_reason"):
        line += f"; fallback: {meta['fallback_reason']}"
    print(line + "]", file=sys.stderr)
    return 0


def consortium_cli(engine: ConsortiumEngine, notice: str | None = None, **cli_options: Any) -> Any:
    """An ``EngineCLI`` for ``engine`` showing each member, round and fallback as it happens.

    ``cli_options`` go to ``EngineCLI`` (``console=``, ``input=``...).
    """
    from llmgine.cli import EngineCLI

    cli = EngineCLI(engine.session_id, **cli_options)
    cli.register_engine(engine)
    cli.register_engine_command(engine.command_type, engine.handle_announced)
    cli.register_loading_event(engine.status_event_type)
    cli.register_component_event(ConsortiumMemberEvent, ConsortiumMemberComponent)
    cli.register_component_event(ConsortiumIterationEvent, ConsortiumIterationComponent)
    cli.register_component_event(ConsortiumCombineEvent, ConsortiumCombineComponent)
    cli.register_engine_result_component(partial(EngineResultComponent, title="Consortium"))
    names = ", ".join(f"{m.label}: {m.model_string}" for m in engine.members)
    cli.console.print(
        Text(
            f"{names} \u00b7 strategy {engine.strategy.name} \u00b7 "
            f"arbiter {engine.arbiter.model_string}"
        )
    )
    if notice:
        cli.console.print(Text(notice, style="yellow"))
    return cli


def run_command(args: argparse.Namespace) -> int:
    """Run the consortium for parsed ``args``; the exit code (130 after Ctrl-C)."""
    try:
        prompt = read_prompt(args)
    except UsageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
        return asyncio.run(run(args, prompt))
    except KeyboardInterrupt:
        return 130
    except LLMgineError as exc:  # e.g. the bus could not save its events at exit
        print(f"error: {exc}", file=sys.stderr)
        return 1


def main(argv: Sequence[str] | None = None, prog: str | None = None) -> None:
    """Parse the command line and run the consortium (exits with its code)."""
    parser = build_parser(prog) if prog else build_parser()
    sys.exit(run_command(parser.parse_args(argv)))


if __name__ == "__main__":
    main()
