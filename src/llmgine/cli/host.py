"""What the CLI's parts (slash commands, prompts, the prompt router) use of the CLI.

They are typed against :class:`CLIHost` rather than ``EngineCLI`` itself, so
``cli.py`` can import them without their importing it back.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:  # only types: neither module imports anything of the CLI at run time
    from prompt_toolkit.input import Input
    from prompt_toolkit.output import Output
    from rich.console import Console

    from llmgine.bus.interface import Bus
    from llmgine.cli.live import TurnDisplay
    from llmgine.cli.slash import SlashCommand

__all__ = ["CLIHost"]


class CLIHost(Protocol):
    """The CLI as its commands and prompts see it (``EngineCLI`` is one)."""

    @property
    def engine(self) -> Any:
        """The engine the commands act on (None when there is none)."""
        ...

    @property
    def console(self) -> Console:
        """Where output goes."""
        ...

    @property
    def display(self) -> TurnDisplay:
        """The live region of the running turn."""
        ...

    @property
    def input(self) -> Input | None:
        """prompt_toolkit input (None: the terminal)."""
        ...

    @property
    def output(self) -> Output | None:
        """prompt_toolkit output (None: the terminal)."""
        ...

    @property
    def session_id(self) -> str:
        """The bus session of the CLI's handlers."""
        ...

    @property
    def bus(self) -> Bus:
        """The bus the CLI listens on."""
        ...

    @property
    def cli_commands(self) -> list[SlashCommand]:
        """The slash commands, in registration order."""
        ...

    def render(self, component: Any) -> None:
        """Print a component above the live region."""
        ...

    def print_info(self, message: str) -> None:
        """Print one dim line."""
        ...

    def print_error(self, message: object) -> None:
        """Print one red line."""
        ...

    def request_exit(self) -> None:
        """Quit after the current input."""
        ...

    def cancel_turn(self) -> bool:
        """Cancel the running turn; True if there was one."""
        ...

    def reclaim_sigint(self) -> None:
        """Route Ctrl-C to the running turn again (after a prompt)."""
        ...
