"""Lifetimes: episodic memory expires, semantic memory stays.

Facts and passages past their `expires_at` are left out of every search at once (the searches
check the time); this sweep then purges them, rows and vectors, in the background. Deleting is
idempotent and counted by the rows each process actually deleted, so processes sweeping side
by side never count a row twice.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime

from sqlalchemy import delete, func, update
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from agent_runtime.embedding import Embedder
from agent_runtime.facts.store import FactMemory
from agent_runtime.retrieval import parts
from agent_runtime.retrieval.corpus import PASSAGES
from agent_runtime.retrieval.vector_index import Space, VectorIndex
from agent_runtime.storage import locks
from agent_runtime.storage.database import transaction
from agent_runtime.storage.tables import Agent, Passage, PassageEvent, utcnow

BATCH = 1000
log = logging.getLogger(__name__)


class Expiry:
    def __init__(
        self,
        engine: Engine,
        facts: FactMemory,
        index: VectorIndex,
        embedder_for: Callable[[str], Embedder],
        every_seconds: float,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.engine = engine
        self.facts = facts
        self.index = index
        self.embedder_for = embedder_for
        self.every_seconds = every_seconds
        self.clock = clock
        self.purged = {"facts": 0, "passages": 0}
        self.last_sweep_at: datetime | None = None
        self.last_error: str | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name="recalld-expiry", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
            self._thread = None

    def _run(self) -> None:
        while not self._stop.wait(self.every_seconds):
            self.sweep()

    def sweep(self) -> dict[str, int]:
        """Purge everything expired now; returns what this call purged. A failure is kept
        for `status()` (and the next sweep tries again), never raised into the thread."""
        done = {"facts": 0, "passages": 0}
        try:
            while (n := self.facts.expire(BATCH)) > 0:
                done["facts"] += n
            while (n := self._passages()) > 0:
                done["passages"] += n
            self.last_error = None
        except Exception as exc:
            log.exception("the expiry sweep failed")
            self.last_error = f"{type(exc).__name__}: {exc}"[:1000]
        for kind, n in done.items():
            self.purged[kind] += n
        self.last_sweep_at = self.clock()
        return done

    def _passages(self) -> int:
        now = self.clock()
        with Session(self.engine) as session:
            rows = session.exec(
                select(Passage.id, Passage.agent_id)
                .where(col(Passage.expires_at) <= now)
                .order_by(col(Passage.id))
                .limit(BATCH)
            ).all()
        by_agent: dict[str, list[int]] = {}
        for passage_id, agent_id in rows:
            by_agent.setdefault(agent_id, []).append(int(passage_id or 0))
        purged = 0
        for agent_id, ids in sorted(by_agent.items()):
            with transaction(self.engine) as session:
                # The agent's row before its passages, as deleting an agent takes them.
                session.exec(
                    select(Agent.id).where(col(Agent.id) == agent_id).with_for_update()
                ).first()
                # A passage a step holds (its search marked it indexed) waits for the next sweep.
                ids = locks.free(session, Passage, ids, delete=True)
                session.add_all(  # their audit trail says they expired (not what they said)
                    PassageEvent(agent_id=agent_id, passage_id=i, event="expired", actor="expiry")
                    for i in session.exec(
                        select(Passage.id).where(
                            col(Passage.agent_id) == agent_id, col(Passage.id).in_(ids)
                        )
                    )
                    if i is not None
                )
                gone = session.exec(
                    delete(Passage).where(
                        col(Passage.agent_id) == agent_id, col(Passage.id).in_(ids)
                    )
                ).rowcount
                session.exec(
                    update(Agent)
                    .where(col(Agent.id) == agent_id)
                    .values(
                        passage_count=func.max(col(Agent.passage_count) - gone, 0)
                        if self.engine.dialect.name == "sqlite"
                        else func.greatest(col(Agent.passage_count) - gone, 0),
                        expired_passage_count=col(Agent.expired_passage_count) + gone,
                    )
                )
                agent = session.get(Agent, agent_id)
            purged += gone
            if agent is not None:
                space = Space.of(self.embedder_for(agent.embedding), agent_id, PASSAGES.name)
                every = [v for i in ids for v in parts.every_id(PASSAGES.prefix, i)]
                self.index.delete(space, every)
        return purged

    def status(self, tenant: str | None) -> dict[str, object]:
        """What waits for the sweep and what it purged (this process, since it started)."""
        now = self.clock()
        with Session(self.engine) as session:
            waiting = (
                select(func.count()).select_from(Passage).where(col(Passage.expires_at) <= now)
            )
            if tenant is not None:
                owned = select(Agent.id).where(Agent.tenant_id == tenant)
                waiting = waiting.where(col(Passage.agent_id).in_(owned))
            passages = int(session.exec(waiting).one())
        return {
            "facts": self.facts.counts(tenant),
            "expired_passages_waiting": passages,
            "purged_since_start": dict(self.purged),
            "last_sweep_at": None if self.last_sweep_at is None else self.last_sweep_at.isoformat(),
            "last_error": self.last_error,
        }
