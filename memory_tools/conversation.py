"""Recall memory tool: search every message ever exchanged, not just those still in context."""

from __future__ import annotations

from memory_tools.memory import Memory, ToolError
from memory_tools.results import PAGE_SIZE, check_page, parse_day, render

ROLES = ("user", "assistant", "tool")


def conversation_search(
    memory: Memory,
    query: str,
    roles: list[str] | None = None,
    start_date: str | None = None,
    end_date: str | None = None,
    page: int = 0,
) -> str:
    """Search the whole conversation history by meaning and by exact words.

    Args:
        query: What to look for in past messages. A time it names ("in May 2024",
            "yesterday") ranks what was said then first.
        roles: Only messages from these roles: "user", "assistant", "tool".
        start_date: Only messages from this ISO date on, e.g. 2024-05-01.
        end_date: Only messages up to and including this ISO date.
        page: Result page, from 0; each page holds five results.
    """
    if not query.strip():
        raise ToolError("query is empty")
    bad = [r for r in roles or [] if r not in ROLES]
    if bad:
        raise ToolError(f"unknown role(s) {bad}; use any of {list(ROLES)}")
    page = check_page(page)
    hits, total = memory.search_messages(
        query,
        roles or [],
        parse_day(start_date, "start_date"),
        parse_day(end_date, "end_date", end=True),
        PAGE_SIZE,
        page * PAGE_SIZE,
    )
    return render(hits, total, page, with_tags=False)
