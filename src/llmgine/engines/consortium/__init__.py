"""The consortium engine: several models answer, then their answers are combined."""
