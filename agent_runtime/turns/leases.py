"""One turn at a time per agent, across threads and processes, through a lease row in the database.

A turn takes the agent's lease with one conditional UPDATE; a waiter polls until its bounded wait
runs out and then gets `AgentBusy` (HTTP 409). The lease is free when it was released, when it
ran out, or at once when the process holding it is dead (`processes.py`).

While a turn runs, the runtime's one `LeaseKeeper` thread renews its lease, so a slow model
call does not let it lapse (one thread for every turn: starting one per turn cost about 0.8 ms
of a step's 9, bench/perf.py).

The lease's owner token is also a fencing token: every transaction of the turn renews the
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
from sqlmodel import Session, col, select

from agent_runtime.core.errors import AgentBusy, LeaseLost
from agent_runtime.storage import locks
from agent_runtime.storage.database import transaction
from agent_runtime.storage.processes import Processes
from agent_runtime.storage.tables import Agent, utcnow

MAX_RENEW_INTERVAL = 10.0


class Lease:
    def __init__(
        self,
        engine: Engine,
        agent_id: str,
        seconds: float,
        processes: Processes,
        keeper: LeaseKeeper,
    ) -> None:
        self.engine = engine
        self.agent_id = agent_id
        self.seconds = seconds
        self.processes = processes
        self.owner = uuid.uuid4().hex  # the fencing token
        self.stop_reason: str | None = None  # recorded on the agent when the lease is released
        self.keeper = keeper
        self._released = False  # by the turn's last step, in its own transaction

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
        self.keeper.add(self)

    def fence(self, session: Session, *, release: str | None = None) -> None:
        """Renew the lease inside the caller's transaction, or raise `LeaseLost` if another
        turn holds it now: the caller's writes then roll back. With `release` (the turn's stop
        reason) the caller's transaction is the turn's last and releases the lease instead;
        once it commits, `released()` says so and `release()` has nothing left to do."""
        values = (
            self._free(release)
            if release
            else {"lease_until": utcnow() + timedelta(seconds=self.seconds)}
        )
        renewed = session.exec(
            update(Agent)
            .where(col(Agent.id) == self.agent_id, col(Agent.lease_owner) == self.owner)
            .values(**values)
        )
        if renewed.rowcount != 1:
            raise LeaseLost(
                f"agent {self.agent_id}'s turn lost its lease to another turn; "
                "its last step was not saved"
            )

    def renew(self) -> bool:
        """Renew the lease in a transaction of its own; False once another turn holds it.
        An agent row a writer holds (on PostgreSQL: the turn's own step, once it has written
        the agent, until it commits, tools that run after that included) is passed by rather
        than waited for: that commit fences the lease itself, and the keeper's other leases do
        not wait behind it."""
        try:
            with transaction(self.engine) as session:
                if locks.free(session, Agent, [self.agent_id]):
                    self.fence(session)
                else:  # a read waits for no lock
                    owner = select(Agent.lease_owner).where(col(Agent.id) == self.agent_id)
                    if session.exec(owner).first() != self.owner:
                        return False  # gone, or another turn's
        except LeaseLost:
            return False  # the turn's next fence() raises too
        return True

    def released(self, stop_reason: str) -> None:
        """The transaction that fenced with `release=stop_reason` has committed."""
        self.keeper.discard(self)
        self.stop_reason = stop_reason
        self._released = True

    def release(self) -> None:
        self.keeper.discard(self)
        if self._released:
            return
        with transaction(self.engine) as session:
            session.exec(
                update(Agent)
                .where(col(Agent.id) == self.agent_id, col(Agent.lease_owner) == self.owner)
                .values(**self._free(self.stop_reason))
            )

    @staticmethod
    def _free(stop_reason: str | None) -> dict[str, object]:
        values: dict[str, object] = {
            "lease_owner": None,
            "lease_until": None,
            "lease_process": None,
        }
        if stop_reason:
            values["last_stop_reason"] = stop_reason
        return values


class LeaseKeeper:
    """One thread that renews every lease a turn of this runtime holds, each at a third of
    its length (at most every `MAX_RENEW_INTERVAL` seconds)."""

    def __init__(self) -> None:
        self._due: dict[Lease, float] = {}  # lease -> when it is renewed next (monotonic)
        self._wake = threading.Condition()
        self._thread: threading.Thread | None = None
        self._stopping = False
        self._next_wake = 0.0  # when the thread wakes next (monotonic)

    def add(self, lease: Lease) -> None:
        with self._wake:
            due = time.monotonic() + _interval(lease)
            self._due[lease] = due
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="recalld-lease-keeper", daemon=True
                )
                self._thread.start()
            elif due < self._next_wake:  # waking the thread for nothing costs a step time
                self._wake.notify()

    def discard(self, lease: Lease) -> None:
        with self._wake:
            self._due.pop(lease, None)

    def stop(self) -> None:
        with self._wake:
            self._stopping = True
            self._wake.notify()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _run(self) -> None:
        while True:
            with self._wake:
                if self._stopping:
                    return
                now = time.monotonic()
                due = [lease for lease, at in self._due.items() if at <= now]
                for lease in due:
                    self._due[lease] = now + _interval(lease)
                if not due:
                    self._next_wake = min(self._due.values(), default=now + MAX_RENEW_INTERVAL)
                    self._wake.wait(max(self._next_wake - now, 0.01))
                    continue
            for lease in due:  # outside the lock: a renewal waits on the database
                if not lease.renew():
                    self.discard(lease)


def _interval(lease: Lease) -> float:
    return min(lease.seconds / 3, MAX_RENEW_INTERVAL)
