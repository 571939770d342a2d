"""The extraction queue: messages waiting to become facts, claimed in batches with a lease.

A claim is a conditional UPDATE, so two pipelines (threads or processes) never hold one row.
A batch is the oldest claimable row and the rows queued after it for the same scope and model,
so one model call covers several turns. Its facts and its `done` commit in one transaction that
first checks the lease is still this claim's: a batch whose lease lapsed (its process stalled)
writes nothing, and whoever claimed it next does the work once.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, or_, update
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from agent_runtime.core.errors import LeaseLost, NotFound
from agent_runtime.core.specs import Scope
from agent_runtime.core.vocabulary import ExtractionStatus
from agent_runtime.storage.database import transaction
from agent_runtime.storage.tables import Agent, Extraction, utcnow

QUEUED, RUNNING = ExtractionStatus.QUEUED, ExtractionStatus.RUNNING
DONE, PARKED = ExtractionStatus.DONE, ExtractionStatus.PARKED
MAX_ATTEMPTS = 4  # then the batch is parked with its error
BACKOFF_SECONDS = 5.0  # doubled after each failed attempt


@dataclass(frozen=True)
class Batch:
    owner: str  # this claim's lease token
    rows: list[Extraction]

    @property
    def first(self) -> Extraction:
        return self.rows[0]

    @property
    def scope(self) -> Scope:
        return Scope(self.first.user_id, self.first.agent_id, self.first.run_id)

    @property
    def tenant(self) -> str:
        return self.first.tenant_id


def enqueue(
    session: Session,
    tenant: str,
    messages: Sequence[dict[str, Any]],
    scope: Scope,
    model: str | None = None,
) -> Extraction:
    """Queue messages for extraction in the caller's transaction (a turn's last step)."""
    row = Extraction(
        id="ext-" + uuid.uuid4().hex,
        tenant_id=tenant,
        agent_id=scope.agent_id,
        user_id=scope.user_id,
        run_id=scope.run_id,
        messages=list(messages),
        model=model,
    )
    session.add(row)
    return row


class ExtractionQueue:
    def __init__(self, engine: Engine, lease_seconds: float = 120.0) -> None:
        self.engine = engine
        self.lease_seconds = lease_seconds

    def _claimable(self, now: datetime) -> Any:
        return or_(
            and_(col(Extraction.status) == QUEUED, col(Extraction.run_after) <= now),
            and_(col(Extraction.status) == RUNNING, col(Extraction.lease_until) < now),
        )

    def claim(self, size: int, only: str | None = None) -> Batch | None:
        """The oldest claimable row and up to `size - 1` more of its scope and model; `only`
        claims that one row (an ingestion waited for) and nothing else."""
        now = utcnow()
        claimable = self._claimable(now)
        with Session(self.engine) as session:
            query = select(Extraction).where(claimable)
            if only is not None:
                query = query.where(col(Extraction.id) == only)
            first = session.exec(query.order_by(col(Extraction.created_at)).limit(1)).first()
            if first is None:
                return None
            ids = [first.id]
            if only is None and size > 1:
                same = select(Extraction.id).where(
                    claimable,
                    col(Extraction.id) != first.id,
                    Extraction.tenant_id == first.tenant_id,
                    _same(Extraction.agent_id, first.agent_id),
                    _same(Extraction.user_id, first.user_id),
                    _same(Extraction.run_id, first.run_id),
                    _same(Extraction.model, first.model),
                )
                ids += list(session.exec(same.order_by(col(Extraction.created_at)).limit(size - 1)))
        owner = "lease-" + uuid.uuid4().hex
        with transaction(self.engine) as session:
            session.exec(
                update(Extraction)
                .where(col(Extraction.id).in_(ids), claimable)
                .values(
                    status=RUNNING,
                    lease_owner=owner,
                    lease_until=now + timedelta(seconds=self.lease_seconds),
                    attempts=col(Extraction.attempts) + 1,
                )
            )
            mine = list(
                session.exec(
                    select(Extraction)
                    .where(col(Extraction.lease_owner) == owner)
                    .order_by(col(Extraction.created_at))
                )
            )
        return Batch(owner, mine) if mine else None

    def finish(self, session: Session, batch: Batch, result: dict[str, Any], calls: int) -> None:
        """Mark the batch done in the caller's transaction (the one writing its facts), if
        its lease is still ours; otherwise raise LeaseLost, rolling the facts back."""
        ids = [r.id for r in batch.rows]
        done = session.exec(
            update(Extraction)
            .where(
                col(Extraction.id).in_(ids),
                col(Extraction.lease_owner) == batch.owner,
                col(Extraction.status) == RUNNING,
            )
            .values(
                status=DONE,
                messages=[],
                result=result,
                error=None,
                lease_owner=None,
                lease_until=None,
                finished_at=utcnow(),
            )
        ).rowcount
        if done != len(ids):
            raise LeaseLost("the extraction batch's lease lapsed; another pipeline has it")
        session.exec(  # the batch's model calls, counted once, on its first row
            update(Extraction)
            .where(col(Extraction.id) == batch.first.id)
            .values(model_calls=col(Extraction.model_calls) + calls)
        )
        if batch.first.agent_id is not None:
            agent = session.get(Agent, batch.first.agent_id)
            if agent is not None and agent.memory_error is not None:
                agent.memory_error = None
                session.add(agent)

    def fail(self, batch: Batch, error: str, calls: int) -> bool:
        """Put the batch back with a backoff, or park it after MAX_ATTEMPTS; True if parked.
        A row parked says why on its agent, and nothing later waits behind it."""
        error = error[:2000]
        parked = False
        with transaction(self.engine) as session:
            for row in batch.rows:
                fresh = session.get(Extraction, row.id)
                if fresh is None or fresh.lease_owner != batch.owner:
                    continue  # someone else holds it now
                fresh.model_calls += calls
                calls = 0  # counted once, on the first row
                fresh.error = error
                fresh.lease_owner = fresh.lease_until = None
                if fresh.attempts >= MAX_ATTEMPTS:
                    fresh.status = PARKED
                    fresh.finished_at = utcnow()
                    parked = True
                else:
                    fresh.status = QUEUED
                    delay = BACKOFF_SECONDS * 2 ** (fresh.attempts - 1)
                    fresh.run_after = utcnow() + timedelta(seconds=delay)
                session.add(fresh)
            if parked and batch.first.agent_id is not None:
                agent = session.get(Agent, batch.first.agent_id)
                if agent is not None:
                    agent.memory_error = error
                    session.add(agent)
        return parked

    def retry(self, tenant: str, agent_id: str | None = None) -> int:
        """Queue parked rows again with fresh attempts; returns how many."""
        with transaction(self.engine) as session:
            query = update(Extraction).where(
                col(Extraction.tenant_id) == tenant, col(Extraction.status) == PARKED
            )
            if agent_id is not None:
                query = query.where(col(Extraction.agent_id) == agent_id)
            return int(
                session.exec(
                    query.values(status=QUEUED, attempts=0, run_after=utcnow(), finished_at=None)
                ).rowcount
            )

    def get(self, tenant: str, extraction_id: str) -> Extraction:
        with Session(self.engine, expire_on_commit=False) as session:
            row = session.get(Extraction, extraction_id)
            if row is None or row.tenant_id != tenant:
                raise NotFound(f"ingestion {extraction_id!r} not found")
            return row

    def status(self, tenant: str | None = None, agent_id: str | None = None) -> dict[str, Any]:
        """Rows by status and the newest parked error: for one agent, a tenant, or everyone."""
        with Session(self.engine) as session:
            query = select(Extraction.status, func.count()).group_by(col(Extraction.status))
            last = select(Extraction.error, Extraction.finished_at).where(
                col(Extraction.status) == PARKED
            )
            if tenant is not None:
                query = query.where(col(Extraction.tenant_id) == tenant)
                last = last.where(col(Extraction.tenant_id) == tenant)
            if agent_id is not None:
                query = query.where(col(Extraction.agent_id) == agent_id)
                last = last.where(col(Extraction.agent_id) == agent_id)
            counts = {str(s): int(n) for s, n in session.exec(query)}
            newest = session.exec(
                last.order_by(col(Extraction.finished_at).desc()).limit(1)
            ).first()
        return {
            "queued": counts.get(QUEUED, 0),
            "running": counts.get(RUNNING, 0),
            "done": counts.get(DONE, 0),
            "parked": counts.get(PARKED, 0),
            "last_error": None if newest is None else newest[0],
        }


def _same(column: Any, value: str | None) -> Any:
    return col(column).is_(None) if value is None else col(column) == value
