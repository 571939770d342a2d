"""Rows background writers take without waiting (agent_runtime/storage/locks.py)."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

from sqlalchemy import update
from sqlmodel import Session, col

from agent_runtime.core.specs import AgentSpec, PassageInput
from agent_runtime.runtime import Runtime
from agent_runtime.storage import locks
from agent_runtime.storage.tables import Agent, Passage


def passages(runtime: Runtime, count: int, expires_at: datetime | None = None) -> list[int]:
    agent = runtime.create_agent(AgentSpec(name="held"))
    items = [PassageInput(f"note {n}", expires_at=expires_at) for n in range(count)]
    runtime.insert_passages(agent.id, items)
    return [int(p.id or 0) for p in runtime.passages(agent.id)]


def test_rows_another_transaction_holds_are_passed_by(runtime: Runtime, backend: str) -> None:
    ids = passages(runtime, 3)
    with Session(runtime.engine) as holder:
        holder.exec(update(Passage).where(col(Passage.id) == ids[1]).values(indexed=True))
        with Session(runtime.engine) as other:
            if backend == "postgres":
                assert locks.free(other, Passage, ids) == [ids[0], ids[2]]
            else:  # SQLite: one writer at a time, no row locks
                assert locks.free(other, Passage, ids) == ids
            other.rollback()
        holder.rollback()
    with Session(runtime.engine) as other:
        assert sorted(locks.free(other, Passage, ids, delete=True)) == ids
        assert locks.free(other, Passage, []) == []


def test_the_expiry_sweep_leaves_a_held_passage_for_its_next_pass(
    runtime: Runtime, backend: str
) -> None:
    soon = datetime.now(UTC) + timedelta(days=1)
    ids = passages(runtime, 3, expires_at=soon)
    later = datetime.now(UTC) + timedelta(days=2)
    runtime.expiry.clock = lambda: later
    if backend == "sqlite":  # a held write would hold the whole database there
        assert runtime.expiry.sweep()["passages"] == 3
        return
    swept: list[dict[str, int]] = []
    with Session(runtime.engine) as step:  # a step's search marking a pending row
        step.exec(update(Passage).where(col(Passage.id) == ids[0]).values(indexed=True))
        sweep = threading.Thread(target=lambda: swept.append(runtime.expiry.sweep()))
        sweep.start()
        sweep.join(timeout=10)
        assert swept == [{"facts": 0, "passages": 2}], "the sweep waited for the held passage"
        step.commit()
    assert runtime.expiry.sweep()["passages"] == 1
    with Session(runtime.engine) as session:
        assert session.get(Passage, ids[0]) is None


def test_the_indexer_does_not_wait_for_an_agent_a_step_holds(
    runtime: Runtime, backend: str
) -> None:
    """A step that wrote its agent's row holds it until it commits, tools included: the one
    indexer thread goes on to other agents instead of waiting (the step schedules it again)."""
    ids = passages(runtime, 2)
    with Session(runtime.engine) as session:
        agent_id = session.get(Passage, ids[0]).agent_id  # type: ignore[union-attr]
    if backend == "sqlite":
        assert runtime.services.indexer.index_agent(agent_id) >= 0
        return
    done: list[int] = []
    with Session(runtime.engine) as step:
        step.exec(update(Agent).where(col(Agent.id) == agent_id).values(passage_count=9))
        indexing = threading.Thread(
            target=lambda: done.append(runtime.services.indexer.index_agent(agent_id))
        )
        indexing.start()
        indexing.join(timeout=10)
        assert done == [0], "the indexer waited for the step's agent row"
        step.rollback()
    runtime.services.indexer.index_agent(agent_id)  # the step gone, its rows are taken
    with Session(runtime.engine) as session:
        assert all(session.get(Passage, i).indexed for i in ids)  # type: ignore[union-attr]
