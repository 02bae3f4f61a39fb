"""Example user tools: plain functions marked with ``@tool``.

Register them with ``await tool_manager.register_tools("tools/weather.py")``
(or the module path ``"tools.weather"`` when the repository root is on the path).
"""
