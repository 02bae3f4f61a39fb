"""The package version (read by the build backend and ``llmgine --version``)."""

__version__ = "0.1.0"
