"""Hybrid search over archival passages and recall messages.

Keyword ranking (BM25 in the database) and dense ranking (the vector index) are fused with
weighted reciprocal rank fusion; filters by time, tags and roles apply to both lists.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np
from sqlmodel import Session, col, select

from agent_runtime.core.errors import RecalldError
from agent_runtime.embedding import Embedder
from agent_runtime.memory import messages as messages_
from agent_runtime.memory import tags as tags_
from agent_runtime.retrieval import keyword, parts, term_stats, time_hints
from agent_runtime.retrieval.corpus import MESSAGES, PASSAGES, Corpus
from agent_runtime.retrieval.vector_index import (
    Space,
    VectorFilter,
    VectorHit,
    VectorIndex,
    epoch,
)
from agent_runtime.storage.tables import Message, Passage
from memory_tools import Hit

# A dense query asks for this many vectors per row it wants: rows have several parts.
PARTS_PER_ROW = 3
# With a tag filter, dense hits are filtered after the query (the index holds no tags).
TAG_OVERFETCH = 4
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Fusion:
    """How the two ranked lists become one. Defaults tuned on LoCoMo's development split
    (bench/locomo.py): a sharp rank fusion (small k) with the keyword list a little ahead, and
    conversation turns (paged-out passages, messages) lending part of their score to the turns
    next to them, since conversations answer across neighbouring turns."""

    keyword_weight: float = 1.0
    dense_weight: float = 0.8
    k: int = 5
    candidates: int = 100
    neighbour_weight: float = 0.35
    neighbour_spread: int = 2
    neighbour_sources: int = 30  # only the leading hits pass score on
    # Rows inside the time the query names ("in March 2023", "yesterday") form a third list,
    # in fused order, with this weight (time_hints.py; LoCoMo recall@10 0.738 -> 0.757).
    time_weight: float = 2.0


def _within(
    row: Passage | Message, start: datetime | None, end: datetime | None, roles: list[str] | None
) -> bool:
    """The dense filters (time, roles) applied to a row held in memory."""
    at = row.created_at if row.created_at.tzinfo else row.created_at.replace(tzinfo=UTC)
    if (start is not None and at < start) or (end is not None and at > end):
        return False
    return not (roles and isinstance(row, Message) and row.role not in roles)


def _score(
    embedder: Embedder, query: np.ndarray, corpus: Corpus, rows: list[Passage | Message]
) -> list[VectorHit]:
    """Rows scored against the query vector as the index would, part by part."""
    texts = [(row, corpus.vector_text(row)) for row in rows]
    pieces = [
        (vid, part)
        for row, text in texts
        if text is not None
        for vid, part in parts.vectors(corpus.prefix, int(row.id or 0), text)
    ]
    if not pieces:
        return []
    vectors = embedder.embed([part for _, part in pieces])
    distances = 1.0 - vectors @ np.asarray(query, dtype=np.float32)
    return [VectorHit(vid, float(d)) for (vid, _), d in zip(pieces, distances, strict=True)]


def fuse_scores(lists: list[tuple[list[int], float]], k: int) -> dict[int, float]:
    """Weighted reciprocal rank fusion of ranked id lists, as scores (insertion order kept)."""
    scores: dict[int, float] = {}
    for ids, weight in lists:
        for rank, id_ in enumerate(ids):
            scores[id_] = scores.get(id_, 0.0) + weight / (k + rank + 1)
    return scores


def best_first(scores: dict[int, float]) -> list[int]:
    return sorted(scores, key=lambda i: -scores[i])  # stable: ties keep first-seen order


def fuse(lists: list[tuple[list[int], float]], k: int) -> list[int]:
    """Weighted reciprocal rank fusion of ranked id lists; ties keep first-seen order."""
    return best_first(fuse_scores(lists, k))


def spread_to_neighbours(
    scores: dict[int, float], neighbours: set[int], weight: float, spread: int
) -> dict[int, float]:
    """Each id in `neighbours` passes `weight` of its score to the ids up to `spread` away that
    are in `neighbours` too, halving with each step."""
    out = dict(scores)
    for id_, score in scores.items():
        if id_ not in neighbours:
            continue
        for step in range(1, spread + 1):
            for other in (id_ - step, id_ + step):
                if other in neighbours:
                    out[other] = out.get(other, 0.0) + weight * score * 0.5 ** (step - 1)
    return out


@dataclass(frozen=True)
class Filters:
    start: datetime | None = None
    end: datetime | None = None
    tags: list[str] = field(default_factory=list)
    roles: list[str] = field(default_factory=list)
    # Rows from this id on are left out: the searching turn's own messages are not results.
    before_id: int | None = None


class Searcher:
    def __init__(
        self,
        index: VectorIndex,
        catch_up: Callable[[Session, str], list[Passage | Message]],
        fusion: Fusion | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.index = index
        # Indexes an agent's committed pending rows; returns the caller's uncommitted ones.
        self.catch_up = catch_up
        self.fusion = fusion or Fusion()
        self.clock = clock  # "yesterday" in a query is relative to it
        self.pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="recalld-dense")
        self.counts = term_stats.Counts()

    def close(self) -> None:
        self.pool.shutdown(wait=True)

    def dense(
        self,
        embedder: Embedder,
        agent_id: str,
        corpus: Corpus,
        query: str,
        limit: int,
        start: datetime | None,
        end: datetime | None,
        roles: list[str] | None = None,
        unsaved: list[Passage | Message] | None = None,
    ) -> list[int]:
        """Row ids by meaning: the index's hits, and `unsaved` rows (the searching transaction's
        own, which never reach the index before they commit) scored here in memory."""
        only = VectorFilter(
            start=None if start is None else epoch(start),
            end=None if end is None else epoch(end),
            roles=tuple(roles or ()),
        )
        vector = embedder.embed([query])[0]
        space = Space.of(embedder, agent_id, corpus.name)
        hits = self.index.query(space, vector, limit * PARTS_PER_ROW, only)
        mine = [
            r
            for r in unsaved or []
            if isinstance(r, corpus.table) and _within(r, start, end, roles)
        ]
        if mine:
            hits = sorted(hits + _score(embedder, vector, corpus, mine), key=lambda h: h.distance)
        return parts.rows_best_first([h.id for h in hits], limit)

    def search(
        self,
        session: Session,
        embedder: Embedder,
        corpus: Corpus,
        agent_id: str,
        query: str,
        filters: Filters,
        limit: int,
        offset: int = 0,
    ) -> tuple[list[Hit], int]:
        """A page of `corpus` rows best first, and how many rows matched in all."""
        ranked = self.rank(session, embedder, agent_id, query, corpus, filters, limit + offset)
        page = ranked[offset : offset + limit]
        table = corpus.table
        rows = {r.id: r for r in session.exec(select(table).where(col(table.id).in_(page)))}
        return [corpus.hit(rows[i]) for i in page if i in rows], len(ranked)

    def passages(
        self,
        session: Session,
        embedder: Embedder,
        agent_id: str,
        query: str,
        *,
        tags: list[str],
        start: datetime | None,
        end: datetime | None,
        limit: int,
        offset: int = 0,
    ) -> tuple[list[Hit], int]:
        filters = Filters(start, end, tags=list(tags))
        return self.search(session, embedder, PASSAGES, agent_id, query, filters, limit, offset)

    def messages(
        self,
        session: Session,
        embedder: Embedder,
        agent_id: str,
        query: str,
        *,
        roles: list[str],
        start: datetime | None,
        end: datetime | None,
        limit: int,
        offset: int = 0,
        before_id: int | None = None,
    ) -> tuple[list[Hit], int]:
        roles = list(roles) or list(messages_.SEARCH_ROLES)
        filters = Filters(start, end, roles=roles, before_id=before_id)
        return self.search(session, embedder, MESSAGES, agent_id, query, filters, limit, offset)

    def rank(
        self,
        session: Session,
        embedder: Embedder,
        agent_id: str,
        query: str,
        corpus: Corpus,
        filters: Filters,
        needed: int,
    ) -> list[int]:
        """Row ids of `corpus`, best first, keyword and dense fused."""
        want = max(self.fusion.candidates, needed * 2)
        unsaved = self.catch_up(session, agent_id)
        # The query's embedding and vector search run beside the keyword query: both spend
        # their time outside the GIL (ONNX Runtime, Chroma, SQLite), so on two cores a search
        # costs the slower of the two, not their sum.
        dense = self.pool.submit(
            self.dense,
            embedder,
            agent_id,
            corpus,
            query,
            want * TAG_OVERFETCH if filters.tags else want,
            filters.start,
            filters.end,
            roles=filters.roles,
            unsaved=unsaved,
        )
        keyword_ids = keyword.rank(
            session,
            corpus,
            agent_id,
            query,
            limit=want,
            start=filters.start,
            end=filters.end,
            tags=filters.tags,
            roles=filters.roles,
            counts=self.counts,
        )
        try:
            dense_ids = dense.result()
        except RecalldError as exc:  # a broken vector index must not break search: keywords
            log.warning("dense search failed for %s %s: %s", agent_id, corpus.name, exc.message)
            dense_ids = []
        if filters.tags:  # the index holds no tags: keep the dense hits that carry them all
            dense_ids = self._tagged(session, dense_ids, filters.tags)
        scores = fuse_scores(
            [(keyword_ids, self.fusion.keyword_weight), (dense_ids, self.fusion.dense_weight)],
            self.fusion.k,
        )
        if self.fusion.neighbour_weight and scores:
            leaders = set(best_first(scores)[: self.fusion.neighbour_sources])
            turns = self._turns_around(session, agent_id, corpus, leaders, filters)
            scores = spread_to_neighbours(
                scores, turns, self.fusion.neighbour_weight, self.fusion.neighbour_spread
            )
        named = time_hints.window(query, self.clock())
        if named is not None and self.fusion.time_weight and scores:
            scores = self._favour_window(session, corpus, scores, named)
        if filters.before_id is not None:
            scores = {i: v for i, v in scores.items() if i < filters.before_id}
        if corpus.expires and scores:
            scores = self._unexpired(session, corpus, scores)
        return best_first(scores)

    def _unexpired(
        self, session: Session, corpus: Corpus, scores: dict[int, float]
    ) -> dict[int, float]:
        table = corpus.table
        expired = set(
            session.exec(
                select(table.id).where(
                    col(table.id).in_(list(scores)), col(table.expires_at) <= self.clock()
                )
            )
        )
        return {i: v for i, v in scores.items() if i not in expired}

    @staticmethod
    def _tagged(session: Session, ids: list[int], wanted: list[str]) -> list[int]:
        rows = session.exec(select(Passage.id, Passage.tags).where(col(Passage.id).in_(ids)))
        keep = {i for i, carried in rows if tags_.has_all(carried, wanted)}
        return [i for i in ids if i in keep]

    def _favour_window(
        self, session: Session, corpus: Corpus, scores: dict[int, float], named: time_hints.Window
    ) -> dict[int, float]:
        """Fuse in a third list: the scored rows whose time lies in the window the query names."""
        table = corpus.table
        rows = session.exec(select(table.id, table.created_at).where(col(table.id).in_(scores)))
        times = {i: created for i, created in rows}
        inside = [i for i in best_first(scores) if i in times and named.holds(times[i])]
        extra = fuse_scores([(inside, self.fusion.time_weight)], self.fusion.k)
        return {i: score + extra.get(i, 0.0) for i, score in scores.items()}

    def _turns_around(
        self, session: Session, agent_id: str, corpus: Corpus, ids: set[int], filters: Filters
    ) -> set[int]:
        """Conversation turns among `ids` and their neighbours that pass the filters (paged-out
        passages carrying the tags asked for, messages of the roles searched)."""
        spread = self.fusion.neighbour_spread
        wanted = {i + step for i in ids for step in range(-spread, spread + 1)}
        table = corpus.table
        # Primary-key lookups only: with agent_id in the WHERE clause SQLite's planner would
        # rather walk the agent's whole index.
        query = select(
            table.id, table.agent_id, table.created_at, getattr(table, corpus.filter_column)
        ).where(col(table.id).in_(wanted))
        if corpus.turns is not None:
            query = query.where(corpus.turns)
        return {
            i
            for i, owner, created, value in session.exec(query)
            if i is not None
            and owner == agent_id
            and _passes(corpus, value, filters)
            and (filters.start is None or created >= filters.start)
            and (filters.end is None or created <= filters.end)
        }


def _passes(corpus: Corpus, value: Any, filters: Filters) -> bool:
    """A row's tags or role against the filters."""
    if corpus.tags:
        return tags_.has_all(value, filters.tags)
    return not filters.roles or value in filters.roles
