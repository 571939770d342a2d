"""`doctor`: compare the database (the source of truth) with the vector index, and repair.

For each agent and kind of row it finds vectors that are *missing* (a row marked indexed whose
whole text or a sentence has no vector), *stale* (a vector of an existing row that its current
text does not give, such as a sentence it no longer has) and *orphan* (a vector whose row is
gone). Repair deletes stale and orphan vectors and gives rows with missing or stale vectors back
to the indexer.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import update
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from agent_runtime.embedding import Embedder
from agent_runtime.retrieval import parts
from agent_runtime.retrieval.corpus import CORPORA, Corpus, Row
from agent_runtime.retrieval.vector_index import Space, VectorIndex
from agent_runtime.storage.database import transaction


@dataclass
class Finding:
    """What one agent's collection of one kind holds against its rows."""

    agent_id: str
    kind: str
    rows: int  # rows marked indexed that should have vectors
    vectors: int
    missing: list[int] = field(default_factory=list)  # row ids
    stale: list[str] = field(default_factory=list)  # vector ids
    orphans: list[str] = field(default_factory=list)  # vector ids
    repaired: bool = False

    @property
    def healthy(self) -> bool:
        return not (self.missing or self.stale or self.orphans)


class Doctor:
    def __init__(
        self, engine: Engine, index: VectorIndex, embedder_for: Callable[[str], Embedder]
    ) -> None:
        self.engine = engine
        self.index = index
        self.embedder_for = embedder_for

    def examine(self, agent_id: str, embedding: str, *, repair: bool = False) -> list[Finding]:
        findings = [self._examine(agent_id, embedding, corpus) for corpus in CORPORA]
        if repair:
            for finding in findings:
                if not finding.healthy:
                    self._repair(agent_id, embedding, finding)
        return findings

    def _examine(self, agent_id: str, embedding: str, corpus: Corpus) -> Finding:
        space = Space.of(self.embedder_for(embedding), agent_id, corpus.name)
        stored = set(self.index.ids(space))
        expected: dict[int, set[str]] = {}  # rows marked indexed: their vectors must be there
        wanted: set[str] = set()  # and pending rows' vectors may be (a crash before marking)
        existing: set[int] = set()
        with Session(self.engine) as session:
            for row in _rows(session, corpus, agent_id):
                row_id = int(row.id or 0)
                existing.add(row_id)
                text = corpus.vector_text(row)
                if text is None:
                    continue
                ids = {v for v, _text in parts.vectors(corpus.prefix, row_id, text)}
                wanted |= ids
                if row.indexed:
                    expected[row_id] = ids
        finding = Finding(agent_id, corpus.name, rows=len(expected), vectors=len(stored))
        finding.missing = sorted(i for i, ids in expected.items() if not ids <= stored)
        for vector_id in sorted(stored - wanted):
            owner = parts.row_of(vector_id)
            (finding.stale if owner in existing else finding.orphans).append(vector_id)
        return finding

    def _repair(self, agent_id: str, embedding: str, finding: Finding) -> None:
        corpus = next(c for c in CORPORA if c.name == finding.kind)
        table = corpus.table
        space = Space.of(self.embedder_for(embedding), agent_id, finding.kind)
        self.index.delete(space, finding.stale + finding.orphans)
        again = set(finding.missing) | {parts.row_of(v) for v in finding.stale}
        if again:
            with transaction(self.engine) as session:
                session.exec(
                    update(table)
                    .where(col(table.id).in_(sorted(again)))
                    .values(indexed=False, index_attempts=0, index_error=None)
                )
        finding.repaired = True


def _rows(session: Session, corpus: Corpus, agent_id: str) -> list[Row]:
    table = corpus.table
    return list(session.exec(select(table).where(col(table.agent_id) == agent_id)))
