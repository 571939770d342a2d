"""Hybrid search over a tenant's facts: keywords (BM25) and meaning (the vector index) fused as
passages are, with a third list for the time the query names; every filter applies in SQL to
every candidate, so a retired fact never takes a place among the hits of the present. Meaning is
ranked by cosines taken from the mean of the scope's vectors (`centred`).

Which facts a search may see is `Validity`: those true now (the default), those true at a time
(as known now), or every one kept (history). Expired and deleted facts are never found.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime

import numpy as np
from sqlalchemy import ColumnElement
from sqlmodel import Session, col, select

from agent_runtime.core.errors import RecalldError
from agent_runtime.core.kept import Kept
from agent_runtime.core.specs import Scope
from agent_runtime.core.vocabulary import Retired
from agent_runtime.embedding import Embedder
from agent_runtime.facts.centres import REUSE, centred, mean_of
from agent_runtime.facts.keywords import CORPUS, FactKeywords
from agent_runtime.retrieval import time_hints
from agent_runtime.retrieval.search import Fusion, best_first, fuse_scores
from agent_runtime.retrieval.vector_index import Space, VectorFilter, VectorHit, VectorIndex
from agent_runtime.storage.ids import among
from agent_runtime.storage.tables import Fact

PREFIX = "f"
# Dense hits are filtered in SQL after the index (it holds no validity): ask for this many more.
OVERFETCH = 2
PENDING_SCORED = 256  # facts not yet in the index, scored in memory from their stored vectors
SMALL = 200  # a search over at most this many facts scores them all in memory


@dataclass(frozen=True)
class Validity:
    """Which facts count: true at `as_of` (None: now), or, with `history`, every one kept."""

    as_of: datetime | None = None
    history: bool = False

    def conditions(self, now: datetime) -> list[ColumnElement[bool]]:
        alive: list[ColumnElement[bool]] = [
            (col(Fact.retired).is_(None)) | (Fact.retired != Retired.DELETED),
            (col(Fact.expires_at).is_(None)) | (col(Fact.expires_at) > now),
        ]
        if self.history:
            return alive
        at = self.as_of or now
        return [
            *alive,
            col(Fact.valid_at) <= at,
            (col(Fact.invalid_at).is_(None)) | (col(Fact.invalid_at) > at),
        ]


SCOPE_FIELDS = ("user_id", "agent_id", "run_id")


def scope_conditions(tenant: str, scope: Scope, exact: bool = False) -> list[ColumnElement[bool]]:
    """A scope's facts: a field given must match; one left None matches anything, or with
    `exact` only facts without that field."""
    out: list[ColumnElement[bool]] = [col(Fact.tenant_id) == tenant]
    for name in SCOPE_FIELDS:
        value = getattr(scope, name)
        if value is not None:
            out.append(col(getattr(Fact, name)) == value)
        elif exact:
            out.append(col(getattr(Fact, name)).is_(None))
    return out


def scope_fields(scope: Scope, exact: bool = False) -> dict[str, tuple[str, ...]]:
    """The same, on the vectors' metadata (where a missing field is "")."""
    return {
        name: (getattr(scope, name) or "",)
        for name in SCOPE_FIELDS
        if getattr(scope, name) is not None or exact
    }


@dataclass(frozen=True)
class Brief:
    """What a prompt shows of a fact, and what ranking it in memory needs: a fifth of a row."""

    id: int
    text: str
    kind: str
    valid_at: datetime
    vector: bytes | None

    @classmethod
    def of(cls, row: Fact) -> Brief:
        return cls(int(row.id or 0), row.text, row.kind, row.valid_at, row.vector)


@dataclass
class FactHit:
    fact: Fact
    score: float  # fused rank score: higher is better, comparable within one search
    similarity: float  # cosine of the query and the fact's statement


class FactSearch:
    def __init__(self, index: VectorIndex, fusion: Fusion | None = None) -> None:
        self.index = index
        self.fusion = fusion or Fusion()
        self.keywords = FactKeywords()
        self.centres: Kept[np.ndarray | None] = Kept(REUSE)  # each large scope's centre
        self.pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="recalld-fact-search")

    def close(self) -> None:
        self.pool.shutdown(wait=True)

    def search(
        self,
        session: Session,
        embedder: Embedder,
        tenant: str,
        query: str,
        conditions: Sequence[ColumnElement[bool]],
        vector_fields: dict[str, tuple[str, ...]],
        *,
        limit: int,
        now: datetime,
        threshold: float | None = None,
    ) -> list[FactHit]:
        """The best `limit` facts for `query` among those meeting `conditions` (tenant, scope,
        validity and filters, all in SQL); `vector_fields` are the ones the index applies."""
        want = max(self.fusion.candidates, limit * 2)
        space = Space.of(embedder, tenant, CORPUS)
        only = VectorFilter(fields=tuple(sorted(vector_fields.items())))
        key = (tenant, only.fields, len(conditions))  # tells scopes (and validities) apart
        large, centre = self.centres.use(key)  # a large scope's centre, kept from a search before
        sample: list[tuple[int | None, bytes | None]] = []
        if not large:
            sample = self._sample(session, conditions)
            large, centre = len(sample) > SMALL, mean_of(v for _i, v in sample)
            if large:
                self.centres.put(key, centre)

        def by_meaning() -> tuple[np.ndarray, list[VectorHit] | RecalldError | None]:
            """The query's vector, and (a large scope) the index's nearest to it."""
            vector = embedder.embed([query])[0]
            if not large:
                return vector, None
            try:
                return vector, self.index.query(space, vector, want * OVERFETCH, only)
            except RecalldError as exc:
                return vector, exc

        # The query's embedding and the index's query run beside the keyword query: ONNX
        # Runtime, Chroma and SQLite all leave the GIL, so on two cores a search pays the
        # slower of the two sides, not their sum.
        meaning = self.pool.submit(by_meaning)
        keyword_ids = self.keywords.rank(session, query, conditions, want, key if large else None)
        vector, nearest = meaning.result()
        if not large:  # a small scope: every candidate scored here, no index query
            dense_ids = centred(vector, sample, centre)[:want]
        elif isinstance(nearest, RecalldError):  # a broken index must not break search
            dense_ids = centred(vector, self._pending(session, conditions), centre)
        else:
            dense_ids = self._dense(session, vector, centre, nearest or [], conditions, want)

        def times(ids: list[int]) -> Iterable[tuple[int | None, datetime]]:
            return session.exec(select(Fact.id, Fact.valid_at).where(among(Fact.id, ids)))

        scores = self._fused(keyword_ids, dense_ids, query, now, times)
        return self._best(session, vector, scores, limit, threshold)

    def rank(
        self,
        rows: Sequence[Brief],
        keyword_ids: list[int],
        vector: np.ndarray,
        query: str,
        now: datetime,
    ) -> list[Brief]:
        """`rows` (a small scope, read whole) best first for `query`, fused as `search` fuses,
        from their stored vectors and with `keyword_ids` (`keyword` over the same rows): no
        further query."""
        by_id = {r.id: r for r in rows}
        stored = [(r.id, r.vector) for r in rows]
        dense_ids = centred(vector, stored, mean_of(v for _i, v in stored))

        def times(ids: list[int]) -> Iterable[tuple[int | None, datetime]]:
            return [(i, by_id[i].valid_at) for i in ids]

        scores = self._fused(keyword_ids, dense_ids, query, now, times)
        ranked = best_first(scores)
        unranked = [i for i in by_id if i not in scores]
        return [by_id[i] for i in ranked + unranked]

    def _fused(
        self,
        keyword_ids: list[int],
        dense_ids: list[int],
        query: str,
        now: datetime,
        times: Callable[[list[int]], Iterable[tuple[int | None, datetime]]],
    ) -> dict[int, float]:
        """The two lists fused, plus a third of those true in the time the query names."""
        scores = fuse_scores(
            [(keyword_ids, self.fusion.keyword_weight), (dense_ids, self.fusion.dense_weight)],
            self.fusion.k,
        )
        named = time_hints.window(query, now)
        if named is not None and self.fusion.time_weight and scores:
            held = {i for i, at in times(list(scores)) if i is not None and named.holds(at)}
            inside = [i for i in best_first(scores) if i in held]
            extra = fuse_scores([(inside, self.fusion.time_weight)], self.fusion.k)
            scores = {i: s + extra.get(i, 0.0) for i, s in scores.items()}
        return scores

    @staticmethod
    def _best(
        session: Session,
        vector: np.ndarray,
        scores: dict[int, float],
        limit: int,
        threshold: float | None,
    ) -> list[FactHit]:
        """The leading `limit` of the fused ids, as hits; only their rows are read, a few
        more at a time when the threshold turns some away."""
        ordered = best_first(scores)
        hits: list[FactHit] = []
        step = limit if threshold is None else limit * 2
        for start in range(0, len(ordered), step):
            chunk = ordered[start : start + step]
            rows = {r.id: r for r in session.exec(select(Fact).where(among(Fact.id, chunk)))}
            for id_ in chunk:
                row = rows.get(id_)
                if row is None:  # deleted since it was ranked
                    continue
                similarity = cosine(vector, row.vector)
                if threshold is not None and similarity < threshold:
                    continue
                hits.append(FactHit(row, scores[id_], similarity))
                if len(hits) == limit:
                    return hits
        return hits

    def _dense(
        self,
        session: Session,
        vector: np.ndarray,
        centre: np.ndarray | None,
        hits: list[VectorHit],
        conditions: Sequence[ColumnElement[bool]],
        limit: int,
    ) -> list[int]:
        """Fact ids by meaning: the index's hits that meet the conditions, and the facts not yet
        in the index, ranked here from their stored vectors."""
        ranked = list(dict.fromkeys(_row_of(h.id) for h in hits))
        found = session.exec(
            select(Fact.id, Fact.vector).where(among(Fact.id, ranked), *conditions)
        ).all()
        return centred(vector, [*found, *self._pending(session, conditions)], centre)[:limit]

    @staticmethod
    def _sample(
        session: Session, conditions: Sequence[ColumnElement[bool]]
    ) -> list[tuple[int | None, bytes | None]]:
        """Up to `SMALL` + 1 of the facts meeting the conditions, with their stored vectors. At
        most `SMALL` are the whole scope (an agent's facts about its user, typically), scored
        here: cheaper than the index's round trip, and exact. Either way their mean is the
        centre the cosines are taken from."""
        return list(session.exec(select(Fact.id, Fact.vector).where(*conditions).limit(SMALL + 1)))

    @staticmethod
    def _pending(
        session: Session, conditions: Sequence[ColumnElement[bool]]
    ) -> list[tuple[int | None, bytes | None]]:
        """Facts not in the index yet (just written, or their indexing failed)."""
        return list(
            session.exec(
                select(Fact.id, Fact.vector)
                .where(col(Fact.indexed).is_(False), col(Fact.vector).is_not(None), *conditions)
                .order_by(col(Fact.id).desc())
                .limit(PENDING_SCORED)
            )
        )


def _row_of(vector_id: str) -> int:
    return int(vector_id.split(":")[1])


def cosine(query: np.ndarray, stored: bytes | None) -> float:
    if not stored:
        return 0.0
    return float(np.frombuffer(stored, dtype=np.float32) @ np.asarray(query, dtype=np.float32))
