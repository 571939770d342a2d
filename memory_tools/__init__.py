"""The tools an agent uses to manage its own memory, and the registry that describes them to models.

Tools are plain functions whose first parameter is a `Memory` (see `memory_tools.memory`); the
runtime supplies it. Their JSON schemas are generated from signatures and docstrings.
"""

from memory_tools.memory import Hit, Memory, ToolError
from memory_tools.registry import Tool, ToolRegistry, default_registry

__all__ = ["Hit", "Memory", "Tool", "ToolError", "ToolRegistry", "default_registry"]
