"""A tiny engine for the CLI tests (also imported by the pseudo-terminal test's child).

It echoes the prompt and, depending on the prompt's first word, exercises the
CLI's features:

* ``fail ...``  returns a failed result (a two-line error);
* ``boom ...``  raises inside the handler;
* ``tool ...``  asks approval for ``get_weather`` and publishes a tool result;
* ``slow ...``  waits forever (to be cancelled);
* anything else: echoes ``echo: <prompt>``, streamed in pieces when ``stream``.
"""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

from llmgine.engines.base import Engine
from llmgine.engines.messages import (
    EngineCommand,
    EngineStatusEvent,
    EngineTextDeltaEvent,
)
from llmgine.messages.commands import CommandResult
from llmgine.models.response import Usage
from llmgine.tools.events import ToolApprovalCommand, ToolExecuteResultEvent


class EchoCommand(EngineCommand):
    """The fake engine's command."""


class EchoStatusEvent(EngineStatusEvent, kw_only=True):
    """The fake engine's status."""


class EchoEngine(Engine):
    command_type = EchoCommand
    status_event_type = EchoStatusEvent

    def __init__(self, session_id: str, *, stream: bool = False) -> None:
        super().__init__(session_id=session_id)
        self.stream = stream
        self.model = SimpleNamespace(model_string="fake:echo")
        self.system_prompt: str | None = None
        self.tool_names = ["get_weather"]
        self.cleared = 0
        self.prompts: list[str] = []
        self.started = asyncio.Event()

    def set_model(self, model: str) -> None:
        if model == "bad":
            raise ValueError("unknown model 'bad'")
        self.model = SimpleNamespace(model_string=model)

    def set_system_prompt(self, prompt: str | None) -> None:
        self.system_prompt = prompt

    async def clear_context(self) -> None:
        self.cleared += 1

    async def handle_command(self, command: EngineCommand) -> CommandResult:
        prompt = command.prompt
        self.prompts.append(prompt)
        self.usage.start_turn()
        await self.publish_status("thinking")
        self.started.set()
        first = prompt.split(" ", 1)[0]
        if first == "fail":
            await self.finish()
            return CommandResult(success=False, error="the model is\nunavailable")
        if first == "boom":
            raise RuntimeError("engine exploded")
        if first == "slow":
            await asyncio.Event().wait()
        if first == "tool":
            approval = await self.bus.execute(
                ToolApprovalCommand(
                    tool_name="get_weather",
                    arguments={"city": "Paris"},
                    description="Get the weather.",
                    session_id=self.session_id,
                )
            )
            approved = approval.success and approval.result is True
            await self.bus.publish(
                ToolExecuteResultEvent(
                    tool_name="get_weather",
                    arguments={"city": "Paris"},
                    result="sunny, 21C" if approved else "The user declined to run get_weather",
                    is_error=not approved,
                    engine_id=self.engine_id,
                    session_id=self.session_id,
                )
            )
        answer = f"echo: {prompt}"
        if self.stream:
            for piece in ("echo: ", prompt):
                await self.bus.publish(
                    EngineTextDeltaEvent(
                        text=piece, engine_id=self.engine_id, session_id=self.session_id
                    )
                )
        turn = Usage(prompt_tokens=10, completion_tokens=5)
        self.usage.turn = turn
        self.usage.session = self.usage.session + turn
        self.usage.turn_cost_usd = 0.0015
        self.usage.session_cost_usd = (self.usage.session_cost_usd or 0.0) + 0.0015
        await self.finish()
        return CommandResult(success=True, result=answer)
