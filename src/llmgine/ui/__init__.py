"""User interfaces for LLMgine engines (the terminal CLI is in :mod:`llmgine.ui.cli`)."""
