"""Core memory tools: edit the named blocks that are always in the system prompt."""

from __future__ import annotations

from memory_tools.memory import Memory, ToolError


def check_fits(label: str, value: str, limit: int) -> None:
    if len(value) > limit:
        raise ToolError(
            f"block {label!r} would be {len(value)} characters, over its limit of {limit} "
            f"(by {len(value) - limit}); shorten the text or replace old content first"
        )


def core_memory_append(memory: Memory, label: str, content: str) -> str:
    """Append text to a core memory block, which stays in your context on every call.

    Args:
        label: The block to edit, e.g. "human" or "persona".
        content: The text to add; it goes on a new line at the end of the block.
    """
    block = memory.block(label)
    if block.read_only:
        raise ToolError(f"block {label!r} is read-only")
    if not content.strip():
        raise ToolError("content is empty")
    value = f"{block.value}\n{content}" if block.value else content
    check_fits(label, value, block.limit)
    memory.write_block(label, value)
    return f"appended to {label!r}; it now holds {len(value)} of {block.limit} characters"


def core_memory_replace(memory: Memory, label: str, old_content: str, new_content: str) -> str:
    """Replace text in a core memory block. Use an empty new_content to delete the old text.

    Args:
        label: The block to edit, e.g. "human" or "persona".
        old_content: Text that appears in the block exactly as written.
        new_content: The text to put in its place.
    """
    block = memory.block(label)
    if block.read_only:
        raise ToolError(f"block {label!r} is read-only")
    if not old_content:
        raise ToolError("old_content is empty; use core_memory_append to add text")
    count = block.value.count(old_content)
    if count == 0:
        raise ToolError(f"old_content was not found in block {label!r}; quote it exactly")
    value = block.value.replace(old_content, new_content)
    check_fits(label, value, block.limit)
    memory.write_block(label, value)
    return (
        f"replaced {count} occurrence(s) in {label!r}; "
        f"it now holds {len(value)} of {block.limit} characters"
    )
