"""A tenant's fact vectors in the index: kept in step with the fact rows (the source of truth,
which also keep each fact's embedding), and asked for a free statement's near duplicates."""

from __future__ import annotations

import logging
from collections.abc import Callable

import numpy as np
from sqlalchemy import update
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from agent_runtime.core.specs import Scope
from agent_runtime.core.vocabulary import Retired
from agent_runtime.embedding import Embedder
from agent_runtime.facts import rules
from agent_runtime.facts.keywords import CORPUS
from agent_runtime.facts.search import PREFIX, cosine, scope_conditions
from agent_runtime.retrieval import parts
from agent_runtime.retrieval.vector_index import Metadata, Space, VectorFilter, VectorIndex, epoch
from agent_runtime.storage.database import transaction
from agent_runtime.storage.tables import Fact

log = logging.getLogger(__name__)
NEIGHBOURS = 5  # a free statement is compared with this many of its nearest kept facts
SCANNED = 5000  # ... or, for a subject with at most this many, with every one of them


class FactVectors:
    def __init__(self, engine: Engine, index: VectorIndex, embedder: Callable[[], Embedder]):
        self.engine = engine
        self.index = index
        self.embedder = embedder

    def space(self, tenant: str) -> Space:
        return Space.of(self.embedder(), tenant, CORPUS)

    def near(self, row: Fact) -> set[int]:
        """Kept free statements of `row`'s subject and scope whose vectors are near its own
        (cosine >= rules.NEAR). Asked before the write's transaction. Read from SQL with their
        stored vectors and compared here (exact, and facts not yet indexed count too); only a
        subject with more than `SCANNED` free statements asks the index, whose filtered query
        takes over 100 ms at 100,000 facts."""
        assert row.vector is not None
        vector = np.frombuffer(row.vector, dtype=np.float32)
        scope = Scope(user_id=row.user_id, agent_id=row.agent_id, run_id=row.run_id)
        kept = select(Fact.id, Fact.vector).where(
            *scope_conditions(row.tenant_id, scope, exact=True),
            Fact.subject_key == row.subject_key,
            Fact.attribute == "",
            (col(Fact.retired).is_(None)) | (Fact.retired != Retired.DELETED),
            col(Fact.vector).is_not(None),
        )
        with Session(self.engine) as session:
            rows = session.exec(kept.limit(SCANNED + 1)).all()
        if len(rows) <= SCANNED:
            return {
                int(i)
                for i, stored in rows
                if i is not None and cosine(vector, stored) >= rules.NEAR
            }
        return self._near_in_index(row, vector)

    def _near_in_index(self, row: Fact, vector: np.ndarray) -> set[int]:
        fields = {
            "subject": (row.subject_key,),
            "attribute": ("",),
            "user_id": (row.user_id or "",),
            "agent_id": (row.agent_id or "",),
            "run_id": (row.run_id or "",),
        }
        try:
            hits = self.index.query(
                self.space(row.tenant_id),
                vector,
                NEIGHBOURS,
                VectorFilter(fields=tuple(fields.items())),
            )
        except Exception:  # the index is down: exact repeats still merge
            log.warning("near-duplicate check skipped: the vector index failed")
            return set()
        return {int(h.id.split(":")[1]) for h in hits if 1.0 - h.distance >= rules.NEAR}

    def upsert(self, tenant: str, rows: list[Fact]) -> None:
        """Put written facts' vectors in the index and mark them; a failure leaves them
        pending, still found by search, for `index_pending` to retry."""
        rows = [r for r in rows if r.vector is not None]
        if not rows:
            return
        ids = [f"{PREFIX}:{row.id}" for row in rows]
        vectors = np.stack([np.frombuffer(row.vector or b"", dtype=np.float32) for row in rows])
        marked = update(Fact).where(col(Fact.id).in_([r.id for r in rows]))
        try:
            self.index.upsert(self.space(tenant), ids, vectors, [_metadata(r) for r in rows])
        except Exception as exc:
            log.warning("fact indexing failed for tenant %s: %s", tenant, exc)
            attempts = col(Fact.index_attempts) + 1
            marked = marked.values(index_attempts=attempts, index_error=str(exc)[:1000])
        else:
            marked = marked.values(indexed=True)
        with transaction(self.engine) as session:
            session.exec(marked)

    def index_pending(self, limit: int = 10_000) -> int:
        """Index facts a crash or a failed index left waiting; returns how many were tried."""
        with Session(self.engine) as session:
            rows = list(
                session.exec(
                    select(Fact)
                    .where(col(Fact.indexed).is_(False), col(Fact.vector).is_not(None))
                    .order_by(col(Fact.id))
                    .limit(limit)
                )
            )
        for tenant in sorted({r.tenant_id for r in rows}):
            self.upsert(tenant, [r for r in rows if r.tenant_id == tenant])
        return len(rows)

    def remove(self, tenant: str, fact_id: int) -> None:
        self.index.delete(self.space(tenant), parts.every_id(PREFIX, fact_id))


def _metadata(row: Fact) -> Metadata:
    return {
        "ts": epoch(row.valid_at),
        "subject": row.subject_key,
        "attribute": row.attribute,
        "kind": row.kind,
        "user_id": row.user_id or "",
        "agent_id": row.agent_id or "",
        "run_id": row.run_id or "",
    }
