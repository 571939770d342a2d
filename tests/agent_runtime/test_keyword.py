from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import Session

from agent_runtime import keyword
from agent_runtime.runtime import Runtime
from agent_runtime.specs import AgentSpec, PassageInput

WORDS = ["kiln", "glaze", "clay", "wheel", "trim", "fire", "ash", "bisque", "slip", "stone"]


def fill(runtime: Runtime, agent_id: str, count: int, rng: random.Random) -> None:
    base = datetime(2024, 1, 1, tzinfo=UTC)
    runtime.insert_passages(
        agent_id,
        [
            PassageInput(" ".join(rng.choices(WORDS, k=6)), base + timedelta(days=i))
            for i in range(count)
        ],
    )


def test_ranking_the_table_first_gives_the_same_order_as_the_full_join(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    rng = random.Random(5)
    owner = runtime.create_agent(AgentSpec(name="owner")).id
    other = runtime.create_agent(AgentSpec(name="other")).id
    fill(runtime, owner, 120, rng)  # owns most of the table: the table-first path
    fill(runtime, other, 20, rng)
    fill(runtime, owner, 30, rng)
    late = datetime(2025, 6, 1, tzinfo=UTC)
    weak = [PassageInput(f"kiln note {i} on other things", late) for i in range(5)]
    runtime.insert_passages(owner, weak)  # far below the table's leaders for "kiln"
    runtime.insert_passages(owner, [PassageInput("kiln kiln kiln kiln", late)])  # a leader
    cases = [
        (owner, "kiln glaze", {}),
        (owner, "ash bisque stone", {}),
        # one of the table's leaders passes the filter: the full join must find the rest
        (owner, "kiln", {"start": late}),
        (other, "clay wheel", {}),
    ]

    def ranks() -> list[list[int]]:
        with Session(runtime.engine) as session:
            return [
                keyword.rank(session, keyword.PASSAGES, agent, query, limit=5, **filters)
                for agent, query, filters in cases
            ]

    table_first = ranks()
    monkeypatch.setattr(keyword, "OWNER_SHARE", 2.0)  # never table-first
    full_join = ranks()
    assert table_first == full_join
    assert all(len(ids) == 5 for ids in table_first)
    owned = {p.id for p in runtime.passages(owner, limit=1000)}
    assert set(table_first[0]) <= owned and not set(table_first[3]) & owned
    assert len(table_first[2]) == 5
