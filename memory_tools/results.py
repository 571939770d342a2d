"""Shared argument parsing and result rendering for the search tools."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, time, timedelta

from memory_tools.memory import Hit, ToolError

PAGE_SIZE = 5


def parse_day(value: str | None, name: str, *, end: bool = False) -> datetime | None:
    """An ISO date or datetime; a bare end date covers that whole day."""
    if value is None or value == "":
        return None
    try:
        if len(value) == 10:
            day = date.fromisoformat(value)
            moment = datetime.combine(day, time.min)
            if end:
                moment += timedelta(days=1) - timedelta(microseconds=1)
        else:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise ToolError(f"{name} must be an ISO date like 2024-05-01, got {value!r}") from exc
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)  # dates without a zone are read as UTC
    try:
        return moment.astimezone(UTC)
    except OverflowError as exc:  # a zone can push 0001-01-01 or 9999-12-31 past the calendar
        raise ToolError(f"{name} is outside years 1 to 9999 in UTC, got {value!r}") from exc


def check_page(page: int) -> int:
    if page < 0:
        raise ToolError("page must be 0 or more")
    return page


def render(hits: list[Hit], total: int, page: int, *, with_tags: bool) -> str:
    results = []
    for hit in hits:
        item: dict[str, object] = {"timestamp": hit.created_at.isoformat(timespec="seconds")}
        if hit.role:
            item["role"] = hit.role
        item["content"] = hit.text
        if with_tags and hit.tags:
            item["tags"] = hit.tags
        results.append(item)
    shown_until = page * PAGE_SIZE + len(hits)
    return json.dumps(
        {
            "results": results,
            "page": page,
            "more": total > shown_until,
        },
        ensure_ascii=False,
    )
