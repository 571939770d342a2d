"""One turn at a time per agent, across threads and processes, through a lease row in the database.

A turn takes the agent's lease with one conditional UPDATE; a waiter polls until its bounded wait
runs out and then gets `AgentBusy` (HTTP 409). The lease is renewed every step, so only a process
that died lets a lease lapse, and then the next turn takes over.
"""

from __future__ import annotations

import time
import uuid
from datetime import timedelta

from sqlalchemy import or_, update
from sqlalchemy.engine import Engine
from sqlmodel import col

from agent_runtime.errors import AgentBusy
from agent_runtime.storage.database import transaction
from agent_runtime.storage.tables import Agent, utcnow


class Lease:
    def __init__(self, engine: Engine, agent_id: str, seconds: float) -> None:
        self.engine = engine
        self.agent_id = agent_id
        self.seconds = seconds
        self.owner = uuid.uuid4().hex
        self.stop_reason: str | None = None  # recorded on the agent when the lease is released

    def try_take(self) -> bool:
        now = utcnow()
        with transaction(self.engine) as session:
            result = session.exec(
                update(Agent)
                .where(
                    col(Agent.id) == self.agent_id,
                    or_(
                        col(Agent.lease_until).is_(None),
                        col(Agent.lease_until) < now,
                        col(Agent.lease_owner) == self.owner,
                    ),
                )
                .values(lease_owner=self.owner, lease_until=now + timedelta(seconds=self.seconds))
            )
            return result.rowcount == 1

    def take(self, wait_seconds: float) -> None:
        deadline = time.monotonic() + wait_seconds
        delay = 0.01
        while not self.try_take():
            if time.monotonic() >= deadline:
                raise AgentBusy(
                    f"agent {self.agent_id} is busy with another turn; try again shortly"
                )
            time.sleep(delay)
            delay = min(delay * 2, 0.2)

    def renew_values(self) -> dict[str, object]:
        """Columns to set inside a step's own transaction to extend the lease."""
        return {"lease_until": utcnow() + timedelta(seconds=self.seconds)}

    def release(self) -> None:
        values: dict[str, object] = {"lease_owner": None, "lease_until": None}
        if self.stop_reason:
            values["last_stop_reason"] = self.stop_reason
        with transaction(self.engine) as session:
            session.exec(
                update(Agent)
                .where(col(Agent.id) == self.agent_id, col(Agent.lease_owner) == self.owner)
                .values(**values)
            )
