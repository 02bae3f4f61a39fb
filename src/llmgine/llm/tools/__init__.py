"""Tools: functions a model can call."""

from llmgine.llm.tools.tool_call import ToolCall

__all__ = ["ToolCall"]
