"""Example user tools (functions an engine can call); added with the ToolManager."""
