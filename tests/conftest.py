"""Shared test set-up: the llmgine pytest plugin (fixtures ``bus``, ``fresh_bus``,
``fake_bus``) is loaded through its entry point."""
