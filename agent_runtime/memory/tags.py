"""Passage tags: labels a passage carries for filtering. Kept in the database only; the vector
index never sees them, so no number of distinct tags can grow its metadata (each tag used to be
a metadata key of its own, and 10,000 of them broke a Chroma collection for good)."""

from __future__ import annotations

from collections.abc import Iterable

from agent_runtime.core.errors import InvalidInput
from agent_runtime.core.limits import MAX_TAG_CHARS, MAX_TAGS


def clean(tags: Iterable[str]) -> list[str]:
    """The distinct, stripped, non-empty tags, sorted; too many or too long is refused whole."""
    out = sorted({t.strip() for t in tags if t.strip()})
    if len(out) > MAX_TAGS:
        raise InvalidInput(
            f"a passage carries at most {MAX_TAGS} tags; {len(out)} were given", field="tags"
        )
    long = [t for t in out if len(t) > MAX_TAG_CHARS]
    if long:
        raise InvalidInput(
            f"a tag is at most {MAX_TAG_CHARS} characters: {long[0][:20]!r}…", field="tags"
        )
    return out


def has_all(carried: Iterable[str], wanted: Iterable[str]) -> bool:
    have = set(carried)
    return all(t in have for t in wanted)
