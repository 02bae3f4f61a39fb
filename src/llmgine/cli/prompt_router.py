"""Answering commands with prompts: the command handler behind ``register_prompt_command``.

Prompts are asked one at a time (a model may call several tools needing
approval at once), with the live region hidden. What the prompt returns is
the command's result; Ctrl-C in a prompt cancels the running turn, Ctrl-D (or
a prompt that fails) gives a failed result, which a ``ToolApprovalCommand``
treats as "declined".
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from llmgine.cli._util import call_maybe_async, most_specific
from llmgine.cli.host import CLIHost
from llmgine.messages.commands import Command, CommandResult

__all__ = ["PromptRouter"]


class PromptRouter:
    """The prompts of a CLI by command type, and the bus handler that asks them.

    Args:
        cli: The CLI whose session, console and input the prompts use.
    """

    def __init__(self, cli: CLIHost) -> None:
        self.cli = cli
        self.lookup: dict[type, Callable[..., Any]] = {}
        self._lock = asyncio.Lock()

    def register(self, command_type: type[Command], prompt: Callable[..., Any]) -> None:
        """Answer ``command_type`` with ``prompt(command)`` (replacing an earlier prompt)."""
        if command_type not in self.lookup:
            self.cli.bus.register_command_handler(command_type, self.answer, self.cli.session_id)
        self.lookup[command_type] = prompt

    async def answer(self, command: Command) -> CommandResult:
        """Ask the user with the prompt registered for the command's type."""
        match = most_specific(self.lookup, type(command))
        if match is None:
            return CommandResult(success=False, error=f"no prompt for {type(command).__name__}")
        cli = self.cli
        async with self._lock:
            with cli.display.paused():
                try:
                    prompt = match[1](command)
                    attach = getattr(prompt, "attach_cli", None)
                    if attach is not None:
                        attach(cli)
                    answer = await call_maybe_async(prompt.get_input)
                except KeyboardInterrupt:
                    cli.cancel_turn()
                    return CommandResult(success=False, error="cancelled by the user")
                except EOFError:
                    return CommandResult(success=False, error="no answer (input closed)")
                except Exception as exc:
                    error = f"{type(exc).__name__}: {exc}"
                    cli.print_error(f"the prompt failed: {error}")
                    return CommandResult(success=False, error=error)
                finally:
                    cli.reclaim_sigint()  # a prompt of your own may have taken SIGINT over
            component = getattr(prompt, "component", None)
            if component is not None and not callable(component):
                cli.render(component)
        return CommandResult(success=True, result=answer)
