"""The fact memory tool: what the agent has learned, with the time each fact was true."""

from __future__ import annotations

import json

from memory_tools.memory import Memory, ToolError
from memory_tools.results import parse_day

LIMIT = 10


def memory_search(
    memory: Memory, query: str, as_of: str | None = None, include_history: bool = False
) -> str:
    """Search the facts remembered about the user and their world (where they live, work,
    what they like, people and events), kept up to date as they change.

    Args:
        query: What to look for, e.g. "where does the user live" or "allergies".
        as_of: An ISO date: the facts that were true then, e.g. 2024-05-01.
        include_history: Also return facts that are no longer true, marked as such.
    """
    if not query.strip():
        raise ToolError("query is empty")
    facts = memory.search_facts(query, parse_day(as_of, "as_of", end=True), include_history, LIMIT)
    results = []
    for fact in facts:
        item: dict[str, object] = {
            "fact": fact.text,
            "since": fact.valid_at.date().isoformat(),
            "status": fact.status,
        }
        if fact.invalid_at is not None:
            item["until"] = fact.invalid_at.date().isoformat()
        results.append(item)
    return json.dumps({"results": results}, ensure_ascii=False)
