"""Keeps the vector index in step with the database, which is the source of truth.

Rows are written with `indexed = False` inside a step's transaction. After the commit the step
`schedule()`s the agent and returns; a background thread embeds and upserts the rows (idempotent)
and marks them, under the agent's claim (claims.py) so that two processes never embed the same
rows. A search first catches its agent up (`catch_up`), so an agent always finds what it has
just written. A crash before marking is repaired by `sweep()` at the next start.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
from sqlalchemy import func, update
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from agent_runtime.core.activity import GIVE_WAY_SECONDS, give_way, pace
from agent_runtime.core.errors import IndexUnavailable, ProviderBadRequest
from agent_runtime.embedding import Embedder
from agent_runtime.retrieval import parts
from agent_runtime.retrieval.claims import IndexClaims
from agent_runtime.retrieval.corpus import CORPORA, Corpus, Row
from agent_runtime.retrieval.corpus import of as corpus_of
from agent_runtime.retrieval.vector_index import Metadata, Space, VectorIndex
from agent_runtime.storage import locks
from agent_runtime.storage.database import transaction
from agent_runtime.storage.processes import Processes
from agent_runtime.storage.tables import Agent, utcnow

BATCH = 256
MAX_ATTEMPTS = 5  # a row that failed this often on its own is parked until retried
CATCH_UP_BATCHES = 2
MAX_UNSAVED = 64  # a search scores at most this many of its own transaction's rows in memory
# The background thread lets rows gather this long, so one upsert (about 10 ms in embedded
# Chroma, whatever its size) covers many steps instead of one.
COALESCE_SECONDS = 0.25
log = logging.getLogger(__name__)


@dataclass
class Outcome:
    """What one write did: rows indexed, rows that failed on their own (with the error)."""

    indexed: list[Row]
    failed: list[tuple[Row, str]]
    count: int


@dataclass(frozen=True)
class Failure:
    agent_id: str
    error: str
    at: datetime
    # The cause is shared by every tenant (the index, or the default embedder, is down), as
    # against one agent's own (its embedding model, its collection).
    shared: bool = False


class Batch:
    """Rows of one kind on their way into one collection."""

    def __init__(self) -> None:
        self.ids: list[str] = []
        self.texts: list[str] = []
        self.metas: list[Metadata] = []
        self.rows = 0

    def add(self, prefix: str, row_id: int, text: str, meta: Metadata) -> None:
        """The row's whole text and each of its sentences, all with the row's metadata."""
        self.rows += 1
        for id_, part in parts.vectors(prefix, row_id, text):
            self.ids.append(id_)
            self.texts.append(part)
            self.metas.append(meta)


class Indexer:
    def __init__(
        self,
        engine: Engine,
        index: VectorIndex,
        embedder_for: Callable[[str], Embedder],
        shared_embedding: str = "local",
        processes: Processes | None = None,
        busy: Callable[[], bool] = lambda: False,
    ) -> None:
        self.engine = engine
        self.busy = busy  # turns are running: the background thread gives way to them
        self.claims = IndexClaims(engine, processes)
        self.index = index
        self.embedder_for = embedder_for
        self.shared_embedding = shared_embedding  # the default: its failure is everyone's
        self._pending: set[str] = set()
        self._wake = threading.Condition()
        self._agent_locks: dict[str, threading.Lock] = {}
        self._thread: threading.Thread | None = None
        self._stopping = False
        self._failures: dict[str, Failure] = {}  # by agent, until its next success

    # -- background -------------------------------------------------------------------------

    def start(self) -> None:
        if self._thread is None:
            self._stopping = False
            self._thread = threading.Thread(target=self._work, name="recalld-indexer", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        """Finish what is scheduled, then stop the thread."""
        if self._thread is None:
            return
        with self._wake:
            self._stopping = True
            self._wake.notify()
        self._thread.join(timeout=60)
        self._thread = None

    def schedule(self, agent_id: str) -> None:
        """Index an agent's new rows soon; inline when no background thread runs."""
        if self._thread is None:
            self._index_recording(agent_id)
            return
        with self._wake:
            self._pending.add(agent_id)
            self._wake.notify()

    def _work(self) -> None:
        while True:
            with self._wake:
                while not self._pending and not self._stopping:
                    self._wake.wait()
                if not self._pending and self._stopping:
                    return
                stopping = self._stopping
            until = time.monotonic() + GIVE_WAY_SECONDS
            if not stopping:
                time.sleep(COALESCE_SECONDS)
                give_way(self.busy, until)  # more rows gather meanwhile: fewer upserts
            with self._wake:
                agents, self._pending = self._pending, set()
            for agent_id in sorted(agents):
                started = time.monotonic()
                self._index_recording(agent_id)
                if not self._stopping:
                    pace(self.busy, time.monotonic() - started)

    def _index_recording(self, agent_id: str) -> int:
        """Index an agent, keeping its failure (for `status()`) instead of raising it."""
        try:
            done = self.index_agent(agent_id)
        except Exception as exc:  # the rows stay pending; the next catch-up retries
            log.exception("indexing failed for agent %s", agent_id)
            shared = isinstance(exc, IndexUnavailable) and exc.shared
            self._failures[agent_id] = Failure(agent_id, _describe(exc), utcnow(), shared)
            return 0
        self._failures.pop(agent_id, None)
        return done

    def status(
        self, *, tenant: str | None = None, agent_id: str | None = None
    ) -> dict[str, object]:
        """Rows waiting for their vectors, rows parked after failing on their own, and the
        latest background failure of an agent whose indexing has not succeeded since: for
        everyone (the operator), one tenant's agents, or one agent."""
        with Session(self.engine) as session:
            scope = select(Agent.id)
            if tenant is not None:
                scope = scope.where(Agent.tenant_id == tenant)
            if agent_id is not None:
                scope = scope.where(Agent.id == agent_id)
            scoped = tenant is not None or agent_id is not None
            pending = parked = 0
            for table in (c.table for c in CORPORA):
                rows = select(func.count()).select_from(table).where(col(table.indexed).is_(False))
                if scoped:
                    rows = rows.where(col(table.agent_id).in_(scope))
                attempts = col(table.index_attempts)
                pending += session.exec(rows.where(attempts < MAX_ATTEMPTS)).one()
                parked += session.exec(rows.where(attempts >= MAX_ATTEMPTS)).one()
            failures = list(self._failures.values())
            if scoped and failures:
                ids = [f.agent_id for f in failures]
                mine = set(session.exec(scope.where(col(Agent.id).in_(ids))))
                failures = [f for f in failures if f.agent_id in mine]
        failure = max(failures, key=lambda f: f.at, default=None)
        return {
            "pending_rows": pending,
            "parked_rows": parked,
            "failing_agents": len(failures),
            "last_error": None
            if failure is None
            else {
                "agent_id": failure.agent_id,
                "error": failure.error,
                "at": failure.at.isoformat(),
            },
        }

    def degraded(self) -> bool:
        """Whether indexing fails for everyone (the index, or the default embedder, is down):
        one tenant's failing agent never makes the server degraded for the others."""
        return any(f.shared for f in list(self._failures.values()))

    # -- the work ---------------------------------------------------------------------------

    def _lock(self, agent_id: str) -> threading.Lock:
        with self._wake:
            return self._agent_locks.setdefault(agent_id, threading.Lock())

    def index_agent(self, agent_id: str) -> int:
        """Embed and upsert every pending row of one agent; returns how many were indexed.

        Only under the agent's claim (claims.py): when another process holds it, this returns
        at once and that process takes the rows. A row that fails on its own (the index takes
        its neighbours) counts a failed attempt and is skipped for the rest of this call; at
        `MAX_ATTEMPTS` it is parked, visible in `status()` until `retry()`. When the index
        itself is down, no row is blamed: this raises and the rows wait for the next pass."""
        done = 0
        skip: set[tuple[str, int]] = set()  # failed, or held by a transaction: not again
        owner: str | None = None
        with self._lock(agent_id):
            try:
                while True:
                    if owner is None:
                        with Session(self.engine) as session:  # a read: not behind writers
                            if not _waiting(session, agent_id, skip):
                                return done
                        owner = self.claims.take(agent_id)
                        if owner is None:  # another process reads them again once it releases
                            return done
                    # Read under the claim: the last claimant may have done some of them.
                    with Session(self.engine) as session:
                        found = self._pending_rows(session, agent_id, skip=skip)
                    if found is None:
                        self.claims.release(agent_id, owner)
                        owner = None
                        continue  # look once more: rows of a process refused the claim meanwhile
                    embedding, rows = found
                    outcome = self._write(agent_id, embedding, rows)
                    last = len(rows) < BATCH  # every pending row was read: release with the marks
                    with transaction(self.engine) as session:
                        kept = self.claims.keep(session, agent_id, owner, release=last)
                        gone = not kept and _hold(session, agent_id) is None
                        if not gone:  # rows a transaction holds wait for a later pass
                            skip |= self._mark(session, outcome)
                    if last or not kept:
                        owner = None
                    if gone:  # deleted while its rows were embedded: the upsert re-made them
                        self.drop_agent(agent_id, embedding)
                        return done
                    skip |= {_key(row) for row, _error in outcome.failed}
                    done += outcome.count
            finally:
                if owner is not None:  # failed under the claim: free it for the next try
                    self._release_quietly(agent_id, owner)

    def _release_quietly(self, agent_id: str, owner: str) -> None:
        try:
            self.claims.release(agent_id, owner)
        except Exception:  # the claim runs out on its own; the first error is the one to see
            log.exception("releasing the index claim of agent %s failed", agent_id)

    def catch_up(self, session: Session, agent_id: str) -> list[Row]:
        """Read-your-writes for a search inside the caller's transaction.

        Rows already committed but not yet indexed are upserted (at most `CATCH_UP_BATCHES`
        batches; the background thread does the rest) and marked in the caller's transaction:
        if it rolls back they are only indexed again. Rows the caller's own transaction wrote
        and has not committed never reach the index, since a rollback would leave their vectors
        behind; they are returned, for the search to score in memory. The agent's row is only
        held against deletion (KEY SHARE), and rows another transaction holds are left to it
        (locks.py). A failure here never fails the search: rows are found by keyword meanwhile.
        """
        left = CATCH_UP_BATCHES if self._thread is not None else -1  # no thread: every row
        skip: set[tuple[str, int]] = set()
        unsaved: list[Row] = []
        while left:
            found = self._pending_rows(session, agent_id, newest_first=True, skip=skip)
            if not found:
                break
            embedding, rows = found
            saved = self._committed(rows)
            unsaved += [r for r in rows if _key(r) not in saved]
            skip |= {_key(r) for r in rows if _key(r) not in saved}
            rows = [r for r in rows if _key(r) in saved]
            if rows:
                try:
                    outcome = self._write(agent_id, embedding, rows)
                except IndexUnavailable as exc:
                    log.warning("search indexing skipped for %s: %s", agent_id, exc)
                    self._failures[agent_id] = Failure(agent_id, str(exc), utcnow(), exc.shared)
                    break
                if _hold(session, agent_id) is None:
                    break  # deleted meanwhile
                skip |= self._mark(session, outcome)
                session.flush()
                skip |= {_key(row) for row, _error in outcome.failed}
            left -= 1
        if not left:
            self.schedule(agent_id)  # the background thread takes the rest
        return unsaved[:MAX_UNSAVED]

    def _committed(self, rows: list[Row]) -> set[tuple[str, int]]:
        """Which of `rows` another connection sees: those committed, not the caller's own."""
        out: set[tuple[str, int]] = set()
        with Session(self.engine) as fresh:
            for corpus in CORPORA:
                ids = [r.id for r in rows if isinstance(r, corpus.table)]
                if ids:
                    table = corpus.table
                    found = fresh.exec(select(table.id).where(col(table.id).in_(ids)))
                    out |= {(corpus.name, int(i or 0)) for i in found}
        return out

    def _pending_rows(
        self,
        session: Session,
        agent_id: str,
        newest_first: bool = False,
        skip: set[tuple[str, int]] | None = None,
    ) -> tuple[str, list[Row]] | None:
        agent = session.get(Agent, agent_id)
        if agent is None:
            return None
        rows = [
            row
            for corpus in CORPORA
            for row in _pending(session, corpus, agent_id, newest_first, skip or set())
        ]
        return (agent.embedding, rows) if rows else None

    def _write(self, agent_id: str, embedding: str, rows: list[Row]) -> Outcome:
        """Upsert the rows together; if that fails, one by one, to find the rows at fault."""
        try:
            return Outcome(list(rows), [], self._upsert(agent_id, embedding, rows))
        except IndexUnavailable:
            raise
        except Exception as exc:
            if not self.index.healthy():
                raise IndexUnavailable(f"the vector index is unavailable: {exc}") from exc  # shared
            if len(rows) == 1:
                return Outcome([], [(rows[0], _describe(exc))], 0)
        outcome = Outcome([], [], 0)
        for row in rows:
            try:
                outcome.count += self._upsert(agent_id, embedding, [row])
                outcome.indexed.append(row)
            except Exception as exc:
                outcome.failed.append((row, _describe(exc)))
        if not outcome.indexed and len(outcome.failed) > 1:  # every row: not the rows' fault
            raise IndexUnavailable(
                f"indexing failed for every row: {outcome.failed[0][1]}", shared=False
            )
        return outcome

    def _upsert(self, agent_id: str, embedding: str, rows: list[Row]) -> int:
        batches = {corpus.name: Batch() for corpus in CORPORA}
        for row in rows:
            corpus = corpus_of(row)
            text = corpus.vector_text(row)
            if text is not None:
                # Tags stay in the database (tags.py): the search filters dense hits there.
                batches[corpus.name].add(
                    corpus.prefix, int(row.id or 0), text, corpus.metadata(row)
                )
        embedder = self.embedder_for(embedding)
        shared = embedding == self.shared_embedding
        done = 0
        for name, batch in batches.items():
            if batch.texts:
                self.index.upsert(
                    Space.of(embedder, agent_id, name),
                    batch.ids,
                    _embed(embedder, batch.texts, shared=shared),
                    batch.metas,
                )
                done += batch.rows
        return done

    def drop_agent(self, agent_id: str, embedding: str) -> None:
        """Remove every collection of an agent's vectors."""
        embedder = self.embedder_for(embedding)
        for corpus in CORPORA:
            self.index.drop(Space.of(embedder, agent_id, corpus.name))

    @staticmethod
    def _mark(session: Session, outcome: Outcome) -> set[tuple[str, int]]:
        """Mark the indexed rows; count a failed attempt (and its error) on the others. Rows
        another transaction holds are left as they are (locks.py) and returned: a step that
        searched holds them and marks them itself; if it rolls back they are indexed again by
        a later pass, harmlessly."""
        passed: set[tuple[str, int]] = set()
        for table in (c.table for c in CORPORA):
            rows = [r for r in outcome.indexed if isinstance(r, table)]
            failed = [(r, e) for r, e in outcome.failed if isinstance(r, table)]
            every = [*rows, *(r for r, _e in failed)]
            held = set(locks.free(session, table, [int(r.id or 0) for r in every]))
            passed |= {_key(r) for r in every if r.id not in held}
            done = [int(r.id or 0) for r in rows if r.id in held]
            if done:
                session.exec(update(table).where(col(table.id).in_(done)).values(indexed=True))
            for row, error in failed:
                if row.id in held:
                    session.exec(
                        update(table)
                        .where(col(table.id) == row.id)
                        .values(index_attempts=col(table.index_attempts) + 1, index_error=error)
                    )
        return passed

    def retry(self, agent_id: str) -> int:
        """Give an agent's parked rows their attempts back and index them again."""
        revived = 0
        with transaction(self.engine) as session:
            if _hold(session, agent_id) is None:
                return 0
            for table in (c.table for c in CORPORA):
                revived += session.exec(
                    update(table)
                    .where(
                        col(table.agent_id) == agent_id,
                        col(table.indexed).is_(False),
                        col(table.index_attempts) >= MAX_ATTEMPTS,
                    )
                    .values(index_attempts=0, index_error=None)
                ).rowcount
        self.schedule(agent_id)
        return revived

    def sweep(self) -> int:
        """Index whatever a crash left pending, for every agent."""
        agents: set[str] = set()
        with Session(self.engine) as session:
            for table in (c.table for c in CORPORA):
                pending = select(table.agent_id).where(col(table.indexed).is_(False))
                agents |= set(session.exec(pending.distinct()))
        return sum(self._index_recording(a) for a in sorted(agents))


def _hold(session: Session, agent_id: str) -> str | None:
    """Lock the agent's row against deletion until the transaction ends; None if it is gone."""
    query = select(Agent.id).where(col(Agent.id) == agent_id)
    query = query.with_for_update(read=True, key_share=True)  # FOR KEY SHARE: blocks deletes only
    return session.exec(query).first()


def _embed(embedder: Embedder, texts: list[str], *, shared: bool) -> np.ndarray:
    """The texts' vectors. An embedder that fails for any reason but the text itself (its
    service is down, say) is nobody's row's fault; everyone's, if it is the default one."""
    try:
        return embedder.embed(texts)
    except ProviderBadRequest:  # the provider refused this text: the row's own fault
        raise
    except Exception as exc:
        raise IndexUnavailable(f"the embedder failed: {_describe(exc)}", shared=shared) from exc


def _key(row: Row) -> tuple[str, int]:
    return (corpus_of(row).name, int(row.id or 0))


def _describe(exc: Exception) -> str:
    return f"{type(exc).__name__}: {exc}"[:1000]


def _pending(
    session: Session,
    corpus: Corpus,
    agent_id: str,
    newest_first: bool,
    skip: set[tuple[str, int]],
) -> list[Row]:
    table = corpus.table
    order = col(table.id).desc() if newest_first else col(table.id)
    query = select(table).where(*_unindexed(corpus, agent_id, skip))
    return list(session.exec(query.order_by(order).limit(BATCH)))


def _waiting(session: Session, agent_id: str, skip: set[tuple[str, int]]) -> bool:
    """Whether any row of the agent waits for its vectors: one id read, not the rows."""
    return any(
        session.exec(select(c.table.id).where(*_unindexed(c, agent_id, skip)).limit(1)).first()
        is not None
        for c in CORPORA
    )


def _unindexed(corpus: Corpus, agent_id: str, skip: set[tuple[str, int]]) -> list[Any]:
    table = corpus.table
    where = [
        col(table.indexed).is_(False),
        table.agent_id == agent_id,
        col(table.index_attempts) < MAX_ATTEMPTS,  # parked rows wait for retry()
    ]
    skipped = [i for name, i in skip if name == corpus.name]
    if skipped:
        where.append(col(table.id).not_in(skipped))
    return where
