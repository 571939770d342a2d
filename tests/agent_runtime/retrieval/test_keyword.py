from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text
from sqlmodel import Session

from agent_runtime.core.specs import AgentSpec, PassageInput
from agent_runtime.retrieval import keyword
from agent_runtime.retrieval.corpus import PASSAGES
from agent_runtime.runtime import Runtime

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
                keyword.rank(session, PASSAGES, agent, query, limit=5, **filters)
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


def test_a_word_in_most_rows_is_left_out_while_rarer_words_remain(runtime: Runtime) -> None:
    agent_id = runtime.create_agent(AgentSpec(name="s")).id
    items = [PassageInput(f"weather note number {i}") for i in range(40)]
    items += [PassageInput("kiln weather"), PassageInput("glaze weather")]
    runtime.insert_passages(agent_id, items)
    with Session(runtime.engine) as session:
        if session.get_bind().dialect.name == "postgresql":
            session.execute(text("ANALYZE passage"))  # the word statistics PostgreSQL reads
        ids = keyword.rank(session, PASSAGES, agent_id, "kiln glaze weather", limit=50)
    texts = {p.id: p.text for p in runtime.passages(agent_id, limit=100)}
    # "weather" is in every row: matching it would return all 42
    assert sorted(texts[i] for i in ids) == ["glaze weather", "kiln weather"]


def test_two_words_are_kept_however_common(runtime: Runtime) -> None:
    agent_id = runtime.create_agent(AgentSpec(name="s")).id
    runtime.insert_passages(agent_id, [PassageInput(f"weather report {i}") for i in range(20)])
    with Session(runtime.engine) as session:
        ids = keyword.rank(session, PASSAGES, agent_id, "weather report", limit=50)
    assert len(ids) == 20


def test_word_counts_are_reused_until_the_table_drifts_by_a_tenth() -> None:
    from agent_runtime.retrieval.term_stats import Counts

    counts = Counts()
    counts.remember("passage", {"kiln": 3, "weather": 900}, rows=1000)
    assert counts.known("passage", ["kiln", "weather", "glaze"], rows=1090) == {
        "kiln": 3,
        "weather": 900,
    }  # "glaze" was never read
    assert counts.known("passage", ["kiln"], rows=1101) == {}  # grown by more than a tenth
    assert counts.known("passage", ["kiln"], rows=899) == {}
    assert counts.known("message", ["kiln"], rows=1000) == {}  # per table


def test_cached_word_counts_leave_out_the_same_words(runtime: Runtime) -> None:
    from agent_runtime.retrieval.term_stats import Counts

    agent_id = runtime.create_agent(AgentSpec(name="s")).id
    items = [PassageInput(f"weather note number {i}") for i in range(40)]
    items += [PassageInput("kiln weather"), PassageInput("glaze weather")]
    runtime.insert_passages(agent_id, items)
    counts = Counts()
    with Session(runtime.engine) as session:
        if session.get_bind().dialect.name != "sqlite":
            pytest.skip("PostgreSQL reads its counts from pg_stats, not cached")
        for query in ["kiln glaze weather", "glaze weather kiln", "kiln glaze weather"]:
            cached = keyword.rank(session, PASSAGES, agent_id, query, limit=50, counts=counts)
            fresh = keyword.rank(session, PASSAGES, agent_id, query, limit=50)
            assert cached == fresh and len(cached) == 2
    assert counts.known("passage", ["kiln", "glaze", "weather"], rows=42) == {
        "kiln": 1,
        "glaze": 1,
        "weather": 42,
    }
