"""Application start-up: logging, the bus and its observability handlers in one call.

config = ApplicationConfig(enable_file_handler=True, log_level="debug")
app = ApplicationBootstrap(config)
await app.bootstrap()
...
await app.shutdown()
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, TypeVar

from llmgine.bus.bus import MessageBus
from llmgine.bus.session import BusSession
from llmgine.messages.base import ROOT
from llmgine.messages.commands import Command
from llmgine.messages.events import Event
from llmgine.observability.base import ObservabilityEventHandler
from llmgine.observability.console import ConsoleEventHandler
from llmgine.observability.events import LogLevel
from llmgine.observability.file import FileEventHandler
from llmgine.observability.otel import OpenTelemetryEventHandler
from llmgine.observability.plugins import load_observer

__all__ = ["ApplicationBootstrap", "ApplicationConfig", "setup_basic_logging"]

logger = logging.getLogger("llmgine.bootstrap")

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def setup_basic_logging(level: LogLevel | str | int = LogLevel.INFO) -> None:
    """Send ``llmgine`` log records at ``level`` and above to stderr.

    Adds a stderr handler to the root logger only if it has none (an
    application's own logging set-up wins); other libraries stay at WARNING.
    """
    parsed = LogLevel.parse(level)
    root = logging.getLogger()
    if not root.handlers:
        logging.basicConfig(level=logging.WARNING, format=LOG_FORMAT)
    logging.getLogger("llmgine").setLevel(parsed.logging_level)


@dataclass
class ApplicationConfig:
    """Settings for :class:`ApplicationBootstrap`.

    Attributes:
        name: Application name (for your own use and logs).
        description: Free text.
        log_level: Level of LLMgine's log records (``LogLevel`` or ``"debug"``...).
        enable_console_handler: Log one line per event through :mod:`logging`.
        enable_file_handler: Write every event to a JSONL file.
        file_handler_log_dir: Directory of the JSONL file.
        file_handler_log_filename: Its name (default: timestamped).
        file_handler_spill_bytes: Keep strings longer than this in files beside
            the log (``FileEventHandler(spill_bytes=...)``); None: none.
        data_dir: Where the bus saves undelivered events on stop (default
            ``$LLMGINE_DATA_DIR`` or ``./logs``).
        enable_otel_handler: Turn every run into OpenTelemetry spans (the
            ``otel`` extra: ``pip install 'llmgine[otel]'``).
        otel_tracer_provider: Where the spans go (an SDK ``TracerProvider``
            with your exporter); None: OpenTelemetry's global provider.
        otel_capture_content: Record prompts, answers and tool arguments and
            results in the spans (secrets masked); off by default.
        observers: More observability handlers: names of plugins declared
            under the ``llmgine.observers`` entry points (see
            :mod:`llmgine.observability.plugins`), or handlers.
        observer_options: Keyword arguments of each named plugin's factory.
    """

    name: str = "application"
    description: str = "application description"
    log_level: LogLevel | str = LogLevel.INFO
    enable_console_handler: bool = True
    enable_file_handler: bool = True
    file_handler_log_dir: str = "logs"
    file_handler_log_filename: str | None = None
    file_handler_spill_bytes: int | None = None
    data_dir: str | Path | None = None
    enable_otel_handler: bool = False
    otel_tracer_provider: Any = None
    otel_capture_content: bool = False
    observers: list[str | ObservabilityEventHandler] = field(default_factory=list)
    observer_options: dict[str, dict[str, Any]] = field(default_factory=dict)


_ConfigT = TypeVar("_ConfigT", bound=ApplicationConfig)


class ApplicationBootstrap(Generic[_ConfigT]):
    """Starts the bus with the configured observability handlers, and stops it.

    Override :meth:`register_handlers` to wire an application's handlers
    during :meth:`bootstrap` (subclasses written for the seed override
    ``_register_command_handlers`` / ``_register_event_handlers``; the default
    :meth:`register_handlers` still calls them).
    """

    def __init__(self, config: _ConfigT | None = None) -> None:
        self.config: _ConfigT = config if config is not None else ApplicationConfig()  # type: ignore[assignment]
        setup_basic_logging(self.config.log_level)
        self.message_bus = MessageBus()
        self.observability_handlers: list[ObservabilityEventHandler] = []

    async def bootstrap(self) -> None:
        """Start the bus, register observability handlers, then the application's handlers.

        Raises:
            ConfigurationError: ``enable_otel_handler`` is set and OpenTelemetry
                is not installed.
            ObserverPluginError: an observer named in ``observers`` is not
                installed or cannot start (nothing is started then).
        """
        plugins = [
            item
            if isinstance(item, ObservabilityEventHandler)
            else load_observer(item, **self.config.observer_options.get(item, {}))
            for item in self.config.observers
        ]
        if self.config.data_dir is not None:
            self.message_bus.data_dir = Path(self.config.data_dir)
        if self.config.enable_console_handler:
            self.observability_handlers.append(ConsoleEventHandler())
        if self.config.enable_file_handler:
            self.observability_handlers.append(
                FileEventHandler(
                    log_dir=self.config.file_handler_log_dir,
                    filename=self.config.file_handler_log_filename,
                    spill_bytes=self.config.file_handler_spill_bytes,
                )
            )
        if self.config.enable_otel_handler:
            self.observability_handlers.append(
                OpenTelemetryEventHandler(
                    self.config.otel_tracer_provider,
                    capture_content=self.config.otel_capture_content,
                )
            )
        self.observability_handlers.extend(plugins)
        for handler in self.observability_handlers:
            self.message_bus.register_observability_handler(handler)
        await self.message_bus.start()
        self.register_handlers()
        logger.debug("Application %r bootstrapped", self.config.name)

    async def shutdown(self) -> None:
        """Stop the bus (saving pending events) and close this bootstrap's handlers.

        Raises:
            ConfigurationError: the bus could not save its pending events (the
                handlers are closed all the same).
        """
        try:
            await self.message_bus.stop()
        finally:
            for handler in self.observability_handlers:
                self.message_bus.unregister_observability_handler(handler)
                handler.close()
        self.observability_handlers.clear()
        logger.debug("Application %r shut down", self.config.name)

    async def __aenter__(self) -> ApplicationBootstrap[_ConfigT]:
        await self.bootstrap()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.shutdown()

    def register_handlers(self) -> None:
        """Hook: register the application's handlers (called by :meth:`bootstrap`)."""
        self._register_command_handlers()
        self._register_event_handlers()

    def _register_command_handlers(self) -> None:
        """The seed's hook for command handlers (override :meth:`register_handlers`)."""

    def _register_event_handlers(self) -> None:
        """The seed's hook for event handlers (override :meth:`register_handlers`)."""

    def register_command_handler(
        self, command_type: type[Command], handler: Callable[..., Any], session_id: str = ROOT
    ) -> None:
        """Register a command handler on the bus (ROOT session by default)."""
        self.message_bus.register_command_handler(command_type, handler, session_id)

    def register_event_handler(
        self, event_type: type[Event], handler: Callable[..., Any], session_id: str = ROOT
    ) -> None:
        """Register an event handler on the bus (ROOT session by default)."""
        self.message_bus.register_event_handler(event_type, handler, session_id)

    def create_session(self, id: str | None = None) -> BusSession:  # noqa: A002 - seed API
        """Create a :class:`BusSession` on the bus."""
        return self.message_bus.create_session(id)
