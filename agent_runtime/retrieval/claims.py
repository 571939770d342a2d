"""One process at a time embeds an agent's pending rows: a claim kept on the agent's row.

Replicas on one database each schedule the agents whose rows they wrote, and without a claim
two of them read the same pending rows and both pay for their embeddings. A claim is taken with
one conditional UPDATE, as a turn's lease is (turns/leases.py): it is free when released, when
it ran out, or at once when its process is dead. It is renewed in each transaction that marks
rows and released in the last one.

The claimant reads the pending rows again after releasing, and a process that finds the claim
taken gives up at once: it committed its rows before trying, so the claimant's read after its
release sees them (or, if it read before that commit, the claim is already free for the
other's next try). Rows are never left pending, and never embedded by two processes, except
by a search catching up inside its own transaction, which takes no claim.
"""

from __future__ import annotations

import uuid
from datetime import timedelta

from sqlalchemy import and_, or_, update
from sqlalchemy.engine import Engine
from sqlmodel import Session, col

from agent_runtime.storage import locks
from agent_runtime.storage.database import transaction
from agent_runtime.storage.processes import Processes
from agent_runtime.storage.tables import Agent, utcnow

CLAIM_SECONDS = 120.0  # a claimant that stalls this long without marking a batch loses it


class IndexClaims:
    def __init__(
        self, engine: Engine, processes: Processes | None, seconds: float = CLAIM_SECONDS
    ) -> None:
        self.engine = engine
        self.processes = processes  # None: only a claim's time says whether it is free
        self.seconds = seconds

    def take(self, agent_id: str) -> str | None:
        """A token for the agent's claim, or None if another claimant holds it (or the agent
        is gone)."""
        owner = uuid.uuid4().hex
        now = utcnow()
        free = [col(Agent.index_until).is_(None), col(Agent.index_until) < now]
        if self.processes is not None:
            free.append(
                and_(
                    col(Agent.index_process).is_not(None),
                    col(Agent.index_process).not_in(self.processes.live(now)),
                )
            )
        with transaction(self.engine) as session:
            # An agent row a step holds (from when it writes the agent until it commits) is not
            # waited for: that step schedules the agent again once it commits.
            if not locks.free(session, Agent, [agent_id]):
                return None
            taken = session.exec(
                update(Agent)
                .where(col(Agent.id) == agent_id, or_(*free))
                .values(
                    index_owner=owner,
                    index_until=now + timedelta(seconds=self.seconds),
                    index_process=None if self.processes is None else self.processes.id,
                )
            )
        return owner if taken.rowcount == 1 else None

    def keep(self, session: Session, agent_id: str, owner: str, *, release: bool) -> bool:
        """Renew (or release) the claim in the caller's transaction; False if it is no longer
        the caller's. Run first in a transaction that marks rows: it locks the agent's row
        before the rows, as a delete does; rows a step holds are then skipped (locks.py)."""
        values: dict[str, object] = (
            {"index_owner": None, "index_until": None, "index_process": None}
            if release
            else {"index_until": utcnow() + timedelta(seconds=self.seconds)}
        )
        kept = session.exec(
            update(Agent)
            .where(col(Agent.id) == agent_id, col(Agent.index_owner) == owner)
            .values(**values)
        )
        return kept.rowcount == 1

    def release(self, agent_id: str, owner: str) -> None:
        with transaction(self.engine) as session:
            self.keep(session, agent_id, owner, release=True)
