"""A custom engine: counts the words of a text and has a model summarise it.

Built the way ``programs/engines/engine_guide.md`` describes. Use it:

* from the command line (the same options as the built-in engines)::

      python programs/engines/word_count_engine.py --model test --prompt "Some text."
      python programs/engines/word_count_engine.py           # interactive

* from code (with the repository root on ``sys.path``)::

      from programs.engines.word_count_engine import WordCountEngine, use_word_count_engine

      result = await WordCountEngine(model="test").execute("Some text.", summary_words=10)
      print(await use_word_count_engine("Some text.", model="test"))
"""

from __future__ import annotations

import re

from llmgine import CommandResult, LLMgineError, Model, get_model
from llmgine.engines import Engine, EngineCommand, EngineStatusEvent, EngineTextDeltaEvent
from llmgine.errors import EngineError

INSTRUCTIONS = "Summarise the user's text in at most {limit} words. Reply with the summary only."


# 1. The command: what the engine is asked to do (``prompt`` comes from EngineCommand).
class WordCountEngineCommand(EngineCommand):
    """Count the words of ``prompt`` and summarise it in at most ``summary_words`` words."""

    summary_words: int = 25


# 2. The status event: what the engine is doing (the CLI's spinner shows it).
class WordCountEngineStatusEvent(EngineStatusEvent, kw_only=True):
    """Status of the word-count engine."""


# 3. The engine.
class WordCountEngine(Engine):
    """Counts words and sentences itself and asks the model for a summary.

    Args:
        model: A model or ``"provider:model"`` string (None: the default model).
        session_id: The session of its handler and events.
        system_prompt: Extra instructions for the summary, e.g. "Write in French.".
        stream: Stream the summary (text deltas are published as events).
        engine_id: Its id.
    """

    command_type = WordCountEngineCommand
    status_event_type = WordCountEngineStatusEvent

    def __init__(
        self,
        model: Model | str | None = None,
        session_id: str | None = None,
        *,
        system_prompt: str | None = None,
        stream: bool = False,
        engine_id: str | None = None,
    ) -> None:
        super().__init__(session_id=session_id, engine_id=engine_id)
        self.model = self.resolve_model(model)
        self.system_prompt = system_prompt
        self.stream = stream

    # Optional: the CLI's /model and /system commands use these.
    def set_model(self, model: Model | str) -> None:
        self.model = get_model(model)

    def set_system_prompt(self, prompt: str | None) -> None:
        self.system_prompt = prompt or None

    async def handle_command(self, command: WordCountEngineCommand) -> CommandResult:
        """Count and summarise; a failure is a failed result, never an exception."""
        self.usage.start_turn()
        try:
            return await self._count_and_summarise(command)
        except LLMgineError as exc:  # bad key, provider down...: one readable error
            return self._result(command, error=str(exc))
        finally:
            await self.finish()  # every turn ends with the "finished" status

    async def _count_and_summarise(self, command: WordCountEngineCommand) -> CommandResult:
        words = len(command.prompt.split())
        if words == 0:
            return self._result(command, error="nothing to count: the text is empty")
        sentences = len(re.findall(r"[.!?]+(?=\s|$)", command.prompt)) or 1
        instructions = INSTRUCTIONS.format(limit=command.summary_words)
        if self.system_prompt:
            instructions += "\n" + self.system_prompt
        messages = [
            {"role": "system", "content": instructions},
            {"role": "user", "content": command.prompt},
        ]
        await self.publish_status(f"counted {words} words; calling {self.model.model_string}")
        response = await self.generate(self.model, messages, self.stream)
        summary = response.content or ""
        footer = f"\n\n[words: {words}, sentences: {sentences}, summary: {len(summary.split())}]"
        if self.stream:  # the summary was streamed as it came; stream the footer too
            await self.bus.publish(
                EngineTextDeltaEvent(
                    text=footer, engine_id=self.engine_id, session_id=self.session_id
                )
            )
        return self._result(command, summary + footer, words=words, sentences=sentences)

    def _result(
        self, command: EngineCommand, answer: str = "", error: str | None = None, **counts: int
    ) -> CommandResult:
        return CommandResult(
            success=error is None,
            result=answer if error is None else None,
            error=error,
            session_id=command.session_id,
            metadata={**self.usage.metadata(), "model": self.model.model_string, **counts},
        )


# 4. The engine function: one call from a script, no bus set-up.
async def use_word_count_engine(
    text: str, model: Model | str | None = None, summary_words: int = 25
) -> str:
    """Return the summary and counts of ``text``.

    Raises:
        EngineError: the engine could not answer (its message says why).
    """
    result = await WordCountEngine(model).execute(text, summary_words=summary_words)
    if not result.success:
        raise EngineError(result.error or "the engine failed")
    return str(result.result)


# 5. The command line: --model --system --prompt --no-stream --log-dir; interactive by default.
if __name__ == "__main__":
    from llmgine.cli.launcher import main

    main(WordCountEngine, "Counts the words of a text and has a model summarise it.")
