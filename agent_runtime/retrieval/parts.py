"""The parts of a row's text that get vectors of their own.

A turn often says several things; one vector for all of them blurs each. So a row is indexed as
its whole text and, when it holds more than one sentence, as each sentence too, with the
speaker label ("user: ", "Caroline: ") carried onto every sentence. A dense search ranks a row by
its best part. On LoCoMo this lifts dense recall@10 from 0.48 to 0.58 (docs/benchmarks.md).
"""

from __future__ import annotations

import re

# A sentence ends at . ! or ? before a space, or at a line break (lists, notes, pasted text).
SENTENCE_END = re.compile(r"(?<=[.!?])\s+|\s*\n\s*")
LABEL = re.compile(r"^([^:\n]{1,40}): (?=\S)")
# A long document gets at most this many parts: its sentences are grouped into runs.
MAX_PARTS = 16


def sentences(text: str) -> list[str]:
    """The parts beyond the whole text: none for a single sentence."""
    match = LABEL.match(text)
    label, body = (match.group(0), text[match.end() :]) if match else ("", text)
    found = [s for s in SENTENCE_END.split(body.strip()) if s]
    if len(found) < 2:
        return []
    if len(found) > MAX_PARTS:
        size = -(-len(found) // MAX_PARTS)
        found = [" ".join(found[i : i + size]) for i in range(0, len(found), size)]
    return [label + s for s in found]


def vectors(prefix: str, row_id: int, text: str) -> list[tuple[str, str]]:
    """(vector id, text) for the whole row and each of its sentences."""
    whole = f"{prefix}:{row_id}"
    return [(whole, text)] + [(f"{whole}:{n}", s) for n, s in enumerate(sentences(text), 1)]


def every_id(prefix: str, row_id: int) -> list[str]:
    """Every vector id a row can have, whatever its text: the whole and up to MAX_PARTS parts."""
    whole = f"{prefix}:{row_id}"
    return [whole] + [f"{whole}:{n}" for n in range(1, MAX_PARTS + 1)]


def row_of(vector_id: str) -> int:
    """The row a vector id belongs to: "p:12" and "p:12:3" are both row 12."""
    return int(vector_id.split(":")[1])


def rows_best_first(vector_ids: list[str], limit: int) -> list[int]:
    """Row ids in the order of their best-ranked part."""
    rows = dict.fromkeys(row_of(v) for v in vector_ids)
    return list(rows)[:limit]
