"""Keeps the vector index in step with the database, which is the source of truth.

Rows are written with `indexed = False` inside a step's transaction. After the commit the step
`schedule()`s the agent and returns; a background thread embeds and upserts the rows (idempotent)
and marks them. A search first catches its agent up (`index_agent`), so an agent always finds
what it has just written. A crash before marking is repaired by `sweep()` at the next start.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar

from sqlalchemy import func, update
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from agent_runtime import parts
from agent_runtime.embedding import Embedder
from agent_runtime.messages import as_text
from agent_runtime.storage.database import transaction
from agent_runtime.storage.tables import Agent, Message, Passage, utcnow
from agent_runtime.vector_index import KINDS, Metadata, VectorIndex, collection_name, epoch

BATCH = 256
CATCH_UP_BATCHES = 2
# The background thread lets rows gather this long, so one upsert (about 10 ms in embedded
# Chroma, whatever its size) covers many steps instead of one.
COALESCE_SECONDS = 0.25
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Failure:
    agent_id: str
    error: str
    at: datetime


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
        self, engine: Engine, index: VectorIndex, embedder_for: Callable[[str], Embedder]
    ) -> None:
        self.engine = engine
        self.index = index
        self.embedder_for = embedder_for
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
            self.index_agent(agent_id)
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
            if not stopping:
                time.sleep(COALESCE_SECONDS)
            with self._wake:
                agents, self._pending = self._pending, set()
            for agent_id in sorted(agents):
                try:
                    self.index_agent(agent_id)
                    self._failures.pop(agent_id, None)
                except Exception as exc:  # the rows stay pending; the next catch-up retries
                    log.exception("indexing failed for agent %s", agent_id)
                    error = f"{type(exc).__name__}: {exc}"
                    self._failures[agent_id] = Failure(agent_id, error, utcnow())

    def status(self) -> dict[str, object]:
        """Rows waiting for their vectors, and the latest background failure of any agent whose
        indexing has not succeeded since."""
        with Session(self.engine) as session:
            pending = sum(
                session.exec(select(func.count()).where(col(table.indexed).is_(False))).one()
                for table in (Passage, Message)
            )
        failure = max(list(self._failures.values()), key=lambda f: f.at, default=None)
        return {
            "pending_rows": pending,
            "failing_agents": len(self._failures),
            "last_error": None
            if failure is None
            else {
                "agent_id": failure.agent_id,
                "error": failure.error,
                "at": failure.at.isoformat(),
            },
        }

    # -- the work ---------------------------------------------------------------------------

    def _lock(self, agent_id: str) -> threading.Lock:
        with self._wake:
            return self._agent_locks.setdefault(agent_id, threading.Lock())

    def index_agent(self, agent_id: str) -> int:
        """Embed and upsert every pending row of one agent; returns how many were indexed."""
        done = 0
        with self._lock(agent_id):
            while True:
                with Session(self.engine) as session:  # a read: it must not queue behind writers
                    found = self._pending_rows(session, agent_id)
                if found is None:
                    return done
                count = self._upsert(agent_id, *found)
                with transaction(self.engine) as session:
                    self._mark(session, *found[1:])
                    gone = session.get(Agent, agent_id) is None
                if gone:  # deleted while its rows were embedded: the upsert re-made its collections
                    self.drop_agent(agent_id, found[0])
                    return done
                done += count

    def catch_up(self, session: Session, agent_id: str) -> None:
        """Index an agent's newest pending rows inside the caller's transaction (read-your-writes).

        At most `CATCH_UP_BATCHES` batches, so a search after a bulk load or an upgrade answers
        at once (older rows are found by keyword meanwhile) and the background thread does the
        rest. Takes no agent lock: the caller may hold row locks the background thread waits for.
        """
        left = CATCH_UP_BATCHES if self._thread is not None else -1  # no thread: every row
        while left and (found := self._pending_rows(session, agent_id, newest_first=True)):
            self._upsert(agent_id, *found)
            self._mark(session, *found[1:])
            session.flush()
            left -= 1
        if not left:
            self.schedule(agent_id)  # the background thread takes the rest

    def _pending_rows(
        self, session: Session, agent_id: str, newest_first: bool = False
    ) -> tuple[str, list[Passage], list[Message]] | None:
        agent = session.get(Agent, agent_id)
        if agent is None:
            return None
        passages = _pending(session, Passage, agent_id, newest_first)
        messages = _pending(session, Message, agent_id, newest_first)
        if not passages and not messages:
            return None
        return agent.embedding, passages, messages

    def _upsert(
        self, agent_id: str, embedding: str, passages: list[Passage], messages: list[Message]
    ) -> int:
        batches = {"passage": Batch(), "message": Batch()}
        for p in passages:
            meta: Metadata = {"ts": epoch(p.created_at)}
            meta.update({f"tag:{t}": True for t in p.tags})
            batches["passage"].add("p", int(p.id or 0), p.text, meta)
        for m in messages:
            if m.role != "tool" and (m.content or m.tool_calls):
                meta = {"role": m.role, "ts": epoch(m.created_at)}
                batches["message"].add("m", int(m.id or 0), as_text(m), meta)
        embedder = self.embedder_for(embedding)
        done = 0
        for kind, batch in batches.items():
            if batch.texts:
                self.index.upsert(
                    collection_name(embedder, agent_id, kind),
                    batch.ids,
                    embedder.embed(batch.texts),
                    batch.metas,
                )
                done += batch.rows
        return done

    def drop_agent(self, agent_id: str, embedding: str) -> None:
        """Remove every collection of an agent's vectors."""
        embedder = self.embedder_for(embedding)
        for kind in KINDS:
            self.index.drop(collection_name(embedder, agent_id, kind))

    @staticmethod
    def _mark(session: Session, passages: list[Passage], messages: list[Message]) -> None:
        if passages:
            session.exec(
                update(Passage)
                .where(col(Passage.id).in_([p.id for p in passages]))
                .values(indexed=True)
            )
        if messages:
            session.exec(
                update(Message)
                .where(col(Message.id).in_([m.id for m in messages]))
                .values(indexed=True)
            )

    def sweep(self) -> int:
        """Index whatever a crash left pending, for every agent."""
        with transaction(self.engine) as session:
            agents = set(
                session.exec(
                    select(Passage.agent_id).where(col(Passage.indexed).is_(False)).distinct()
                )
            ) | set(
                session.exec(
                    select(Message.agent_id).where(col(Message.indexed).is_(False)).distinct()
                )
            )
        return sum(self.index_agent(a) for a in sorted(agents))


Row = TypeVar("Row", Passage, Message)


def _pending(session: Session, table: type[Row], agent_id: str, newest_first: bool) -> list[Row]:
    order = col(table.id).desc() if newest_first else col(table.id)
    query = select(table).where(col(table.indexed).is_(False), table.agent_id == agent_id)
    return list(session.exec(query.order_by(order).limit(BATCH)))
