"""Archival memory tools: long-term passages searchable by meaning, words and time."""

from __future__ import annotations

from memory_tools.memory import Memory, ToolError
from memory_tools.results import PAGE_SIZE, check_page, parse_day, render


def archival_memory_insert(memory: Memory, content: str, tags: list[str] | None = None) -> str:
    """Store text in archival memory: facts and material too long for core memory.

    Args:
        content: The text to store, written so that it makes sense on its own later.
        tags: Optional labels for filtering searches later, e.g. ["project-x", "preference"].
    """
    if not content.strip():
        raise ToolError("content is empty")
    clean = sorted({t.strip() for t in tags or [] if t.strip()})
    passage_id = memory.insert_passage(content, clean)
    return f"stored as passage {passage_id}" + (f" with tags {clean}" if clean else "")


def archival_memory_search(
    memory: Memory,
    query: str,
    tags: list[str] | None = None,
    start_date: str | None = None,
    end_date: str | None = None,
    page: int = 0,
) -> str:
    """Search archival memory by meaning and by exact words; results carry their timestamps.

    Args:
        query: What to look for: a question, a topic, a name or an identifier.
            A time it names ("in May 2024", "yesterday") ranks what was said then first.
        tags: Only passages that carry all of these tags.
        start_date: Only passages from this ISO date on, e.g. 2024-05-01.
        end_date: Only passages up to and including this ISO date.
        page: Result page, from 0; each page holds five results.
    """
    if not query.strip():
        raise ToolError("query is empty")
    page = check_page(page)
    hits, total = memory.search_passages(
        query,
        tags or [],
        parse_day(start_date, "start_date"),
        parse_day(end_date, "end_date", end=True),
        PAGE_SIZE,
        page * PAGE_SIZE,
    )
    return render(hits, total, page, with_tags=True)
