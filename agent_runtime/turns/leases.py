"""One turn at a time per agent, across threads and processes, through a lease row in the database.

A turn takes the agent's lease with one conditional UPDATE; a waiter polls until its bounded wait
runs out and then gets `AgentBusy` (HTTP 409). The lease is free when it was released, when it
ran out, or at once when the process holding it is dead (`processes.py`).

While a turn runs, a keep-alive thread renews the lease, so a slow model call does not let it
lapse. The lease's owner token is also a fencing token: every transaction of the turn renews the
lease with `fence()`, a conditional UPDATE on that token, and a turn that lost its lease (its
process was presumed dead, say) raises `LeaseLost` and rolls back instead of interleaving with
the turn that took over.
"""

from __future__ import annotations

import threading
import time
import uuid
from datetime import timedelta

from sqlalchemy import and_, or_, update
from sqlalchemy.engine import Engine
from sqlmodel import Session, col

from agent_runtime.core.errors import AgentBusy, LeaseLost
from agent_runtime.storage.database import transaction
from agent_runtime.storage.processes import Processes
from agent_runtime.storage.tables import Agent, utcnow

MAX_RENEW_INTERVAL = 10.0


class Lease:
    def __init__(self, engine: Engine, agent_id: str, seconds: float, processes: Processes) -> None:
        self.engine = engine
        self.agent_id = agent_id
        self.seconds = seconds
        self.processes = processes
        self.owner = uuid.uuid4().hex  # the fencing token
        self.stop_reason: str | None = None  # recorded on the agent when the lease is released
        self._stop = threading.Event()
        self._keeper: threading.Thread | None = None

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
                        and_(
                            col(Agent.lease_process).is_not(None),
                            col(Agent.lease_process).not_in(self.processes.live(now)),
                        ),
                    ),
                )
                .values(
                    lease_owner=self.owner,
                    lease_until=now + timedelta(seconds=self.seconds),
                    lease_process=self.processes.id,
                )
            )
            return result.rowcount == 1

    def take(self, wait_seconds: float) -> None:
        deadline = time.monotonic() + wait_seconds
        delay = 0.01
        reaped = False
        while not self.try_take():
            if not reaped:  # the holder may be a process of this host that died just now
                self.processes.reap()
                reaped = True
                continue
            if time.monotonic() >= deadline:
                raise AgentBusy(
                    f"agent {self.agent_id} is busy with another turn; try again shortly"
                )
            time.sleep(delay)
            delay = min(delay * 2, 0.2)
        self._keeper = threading.Thread(
            target=self._keep_alive, name=f"recalld-lease-{self.agent_id[-8:]}", daemon=True
        )
        self._keeper.start()

    def fence(self, session: Session) -> None:
        """Renew the lease inside the caller's transaction, or raise `LeaseLost` if another
        turn holds it now: the caller's writes then roll back."""
        renewed = session.exec(
            update(Agent)
            .where(col(Agent.id) == self.agent_id, col(Agent.lease_owner) == self.owner)
            .values(lease_until=utcnow() + timedelta(seconds=self.seconds))
        )
        if renewed.rowcount != 1:
            raise LeaseLost(
                f"agent {self.agent_id}'s turn lost its lease to another turn; "
                "its last step was not saved"
            )

    def _keep_alive(self) -> None:
        interval = min(self.seconds / 3, MAX_RENEW_INTERVAL)
        while not self._stop.wait(interval):
            try:
                with transaction(self.engine) as session:
                    self.fence(session)
            except LeaseLost:
                return  # the next fence() in the turn raises too
            except Exception:  # a missed renewal is retried at the next interval
                continue

    def release(self) -> None:
        self._stop.set()
        values: dict[str, object] = {
            "lease_owner": None,
            "lease_until": None,
            "lease_process": None,
        }
        if self.stop_reason:
            values["last_stop_reason"] = self.stop_reason
        with transaction(self.engine) as session:
            session.exec(
                update(Agent)
                .where(col(Agent.id) == self.agent_id, col(Agent.lease_owner) == self.owner)
                .values(**values)
            )
