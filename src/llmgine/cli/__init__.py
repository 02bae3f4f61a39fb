"""The interactive terminal CLI of LLMgine engines (Rich output, prompt_toolkit input).

``EngineCLI`` wires an engine to the terminal through the bus; the components
render messages into a Rich console; the prompts ask the user questions on
behalf of commands such as ``ToolApprovalCommand``.
"""

from llmgine.cli.cli import EngineCLI
from llmgine.cli.commands import BuiltinCommands, SlashCommand, SlashCommands
from llmgine.cli.components import (
    AssistantComponent,
    CLIComponent,
    EngineResultComponent,
    ErrorComponent,
    ToolComponent,
    ToolComponentShort,
    UserComponent,
)
from llmgine.cli.input_session import (
    DEFAULT_HISTORY_FILE,
    KEY_HINT,
    Interrupted,
    create_history,
    create_input_session,
)
from llmgine.cli.live import TurnDisplay
from llmgine.cli.prompts import (
    CLIPrompt,
    SelectPrompt,
    SelectPromptCommand,
    YesNoPrompt,
    YesNoPromptCommand,
)

__all__ = [
    "DEFAULT_HISTORY_FILE",
    "KEY_HINT",
    "AssistantComponent",
    "BuiltinCommands",
    "CLIComponent",
    "CLIPrompt",
    "EngineCLI",
    "EngineResultComponent",
    "ErrorComponent",
    "Interrupted",
    "SelectPrompt",
    "SelectPromptCommand",
    "SlashCommand",
    "SlashCommands",
    "ToolComponent",
    "ToolComponentShort",
    "TurnDisplay",
    "UserComponent",
    "YesNoPrompt",
    "YesNoPromptCommand",
    "create_history",
    "create_input_session",
]
