"""Example programs built on LLMgine."""
