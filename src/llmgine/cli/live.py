"""The live part of a turn: a status spinner and the answer as it streams in.

Both share one transient ``rich.live.Live`` region at the bottom of the output
(Rich allows one live display per console). When the turn ends, or before
anything else is printed, the streamed text is printed for good as a normal
answer panel and the region is erased, so the scrollback holds each answer
once, in order, and the screen is never cleared.

The model's thinking is shown dimmed, apart from the answer, and collapsed to
one line by default (``show_thinking`` expands it; ``/thinking`` toggles it).

On a console that is not a terminal (a file, a pipe, a test's ``StringIO``) the
live region shows nothing; only the final text is printed.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from rich.console import Console, ConsoleOptions, RenderableType, RenderResult
from rich.live import Live
from rich.markdown import Markdown
from rich.segment import Segment
from rich.spinner import Spinner
from rich.text import Text

from llmgine.cli.components import AssistantComponent, assistant_panel
from llmgine.engines.messages import FINISHED

__all__ = ["TurnDisplay", "thinking_view"]

# Lines kept free below a streaming answer: the spinner, the panel's borders, the prompt.
_RESERVED_LINES = 5
# Characters of the newest thinking shown on the collapsed line while it streams.
_THINKING_TAIL = 60


def thinking_view(text: str, *, expanded: bool, streaming: bool = False) -> Text:
    """The model's thinking, dimmed: one summary line, or the whole text when expanded."""
    words = len(text.split())
    if expanded:
        view = Text("▾ thinking\n", style="dim bold")
        view.append(text.strip(), style="dim italic")
        return view
    if streaming:
        tail = " ".join(text.split())[-_THINKING_TAIL:]
        return Text(f"▸ thinking… ({words} words) {tail}", style="dim italic", no_wrap=True)
    return Text(f"▸ thought for {words} words (/thinking to show)", style="dim italic")


class _Tail:
    """Renders only the last lines of a renderable that fit on the screen.

    A live region taller than the terminal cannot be redrawn in place; showing
    the end of a long answer while it streams keeps the newest text visible.
    """

    def __init__(self, renderable: RenderableType) -> None:
        self.renderable = renderable

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        lines = console.render_lines(self.renderable, options.update(height=None), pad=False)
        keep = max(3, console.size.height - _RESERVED_LINES)
        if len(lines) > keep:
            lines = lines[-keep:]
        new_line = Segment.line()
        for line in lines:
            yield from line
            yield new_line


class TurnDisplay:
    """The spinner and streamed text of the current turn, in one transient live region.

    Args:
        console: Where to draw.
        spinner: Name of the Rich spinner.
        title: Title of the answer panels.
    """

    def __init__(self, console: Console, *, spinner: str = "dots", title: str = "Assistant"):
        self.console = console
        self.title = title
        self.status: str | None = None
        self.streamed = ""  # every piece of text streamed during this turn
        self._pending = ""  # streamed text not printed for good yet
        self.show_thinking = False  # collapsed to one line by default
        self.thinking = ""  # the thinking streamed during this turn
        self._pending_thinking = ""
        self._spinner = Spinner(spinner, text="")
        self._live: Live | None = None
        self._paused = 0

    # -- turn ----------------------------------------------------------------

    def start_turn(self) -> None:
        """Forget the previous turn (its streamed text and status)."""
        self.finish()
        self.status = None
        self.streamed = ""
        self._pending = ""
        self.thinking = ""
        self._pending_thinking = ""

    def set_status(self, status: str) -> None:
        """Show ``status`` next to the spinner; ``"finished"`` ends the turn's live region."""
        if status == FINISHED:
            self.finish()
            return
        self.status = status
        self._spinner.update(text=Text(status, style="bold"))
        self._refresh()

    def add_text(self, text: str) -> None:
        """Add streamed text to the answer being shown."""
        if not text:
            return
        self.streamed += text
        self._pending += text
        self._refresh()

    def add_thinking(self, text: str) -> None:
        """Add streamed thinking, shown dimmed above the answer (collapsed unless expanded)."""
        if not text:
            return
        self.thinking += text
        self._pending_thinking += text
        self._refresh()

    def flush(self) -> None:
        """Print the streamed thinking and text so far for good and hide the region."""
        self._stop_live()
        thinking, self._pending_thinking = self._pending_thinking, ""
        if thinking.strip():
            self.console.print(thinking_view(thinking, expanded=self.show_thinking))
        pending, self._pending = self._pending, ""
        if pending.strip():
            AssistantComponent(pending, title=self.title).render(self.console)

    def finish(self) -> None:
        """End the turn's live output: print the pending text, stop the spinner.

        Safe to call at any time, also when nothing is shown.
        """
        self.status = None
        self.flush()

    @contextmanager
    def paused(self) -> Iterator[None]:
        """Print the pending text and hide the region while the block prints or prompts."""
        self.flush()
        self._paused += 1
        try:
            yield
        finally:
            self._paused -= 1
            self._refresh()

    @property
    def active(self) -> bool:
        """True while the live region is on screen."""
        return self._live is not None

    # -- drawing -------------------------------------------------------------

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        # Built when the live region redraws (at most 12 times a second), not for
        # every piece of text: the Markdown is parsed again each time.
        thinking = self._pending_thinking
        if thinking.strip():
            view = thinking_view(thinking, expanded=self.show_thinking, streaming=True)
            yield _Tail(view) if self.show_thinking else view
        pending = self._pending
        if pending.strip():
            yield _Tail(assistant_panel(Markdown(pending), self.title))
        if self.status:
            yield self._spinner

    def _refresh(self) -> None:
        if self._paused or not (
            self.status or self._pending.strip() or self._pending_thinking.strip()
        ):
            self._stop_live()
            return
        if self._live is None:
            self._live = Live(
                self,
                console=self.console,
                transient=True,
                auto_refresh=self.console.is_terminal,
                refresh_per_second=12,
                vertical_overflow="visible",
            )
            self._live.start(refresh=True)

    def _stop_live(self) -> None:
        live, self._live = self._live, None
        if live is not None:
            live.stop()
