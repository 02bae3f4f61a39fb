"""Example engines built on LLMgine (added with the engines)."""
