"""The searchable corpora of an agent, each described once: where its rows live, how a row reads
for keywords and for vectors, what its vectors carry, and how a found row is shown.

Search, keyword ranking, indexing, deletion and `doctor` take a `Corpus` and hold no branch of
their own on the kind of row, so a new kind of searchable row (facts, next) is a declaration here
plus its own rules.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from agent_runtime.core.vocabulary import Origin
from agent_runtime.memory import messages as messages_
from agent_runtime.retrieval.vector_index import Metadata, epoch
from agent_runtime.storage.tables import Message, Passage
from memory_tools import Hit

Row = Passage | Message


@dataclass(frozen=True)
class Corpus:
    name: str  # its keyword table, and the kind in its vector collections' names
    # The SQLModel table class (Passage, Message). Typed loosely: its columns are read by name
    # (id, agent_id, created_at, indexed, index_attempts) in queries shared by every corpus.
    table: Any
    prefix: str  # vector ids: "p:12" for the whole row, "p:12:3" for its third sentence
    weights: tuple[float, ...]  # BM25 weight of each keyword column: its own text, its prior
    # What a row is embedded as; None for rows that get no vectors (tool results).
    vector_text: Callable[[Any], str | None]
    hit: Callable[[Any], Hit]  # a found row, as a search result
    # The column searches filter on besides time: "tags" (a row must carry all the tags asked
    # for) or "role" (a row's role must be one of those asked for).
    filter_column: str
    # Which rows are conversation turns, lending score to the turns beside them (SQL); None:
    # every row is.
    turns: Any = None
    # Rows may carry `expires_at`: past it they are gone from search at once (the sweep
    # purges them later).
    expires: bool = False

    @property
    def roles(self) -> bool:
        return self.filter_column == "role"

    @property
    def tags(self) -> bool:
        return self.filter_column == "tags"

    def metadata(self, row: Any) -> Metadata:
        """What each of a row's vectors carries: its time, and its role if it has one. Its row
        is in the vector's id, and `parts.every_id` names every vector a row can have."""
        meta: Metadata = {"ts": epoch(row.created_at)}
        if self.roles:
            meta["role"] = row.role
        return meta


def _message_text(row: Message) -> str | None:
    if row.role == "tool" or not (row.content or row.tool_calls):
        return None
    return messages_.as_text(row)


PASSAGES = Corpus(
    name="passage",
    table=Passage,
    prefix="p",
    weights=(1.0, 0.3),  # the turn before a paged-out turn at 0.3 (tuned on LoCoMo)
    vector_text=lambda row: row.text,
    hit=lambda row: Hit(
        id=row.id, text=row.text, created_at=row.created_at, score=0.0, tags=list(row.tags)
    ),
    filter_column="tags",
    turns=Passage.origin == Origin.PAGED,  # a SQL expression
    expires=True,
)

MESSAGES = Corpus(
    name="message",
    table=Message,
    prefix="m",
    weights=(1.0, 0.3),
    vector_text=_message_text,
    hit=lambda row: Hit(
        id=row.id,
        text=messages_.body(row),
        created_at=row.created_at,
        score=0.0,
        role=row.role,
    ),
    filter_column="role",
)

CORPORA = (PASSAGES, MESSAGES)


def of(row: Row) -> Corpus:
    """The corpus a row belongs to."""
    for corpus in CORPORA:
        if isinstance(row, corpus.table):
            return corpus
    raise TypeError(f"{type(row).__name__} rows are not searchable")
