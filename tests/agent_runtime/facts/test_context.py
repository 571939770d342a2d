"""The facts section of an auto agent's context: what it holds and in which order."""

from __future__ import annotations

from datetime import UTC, datetime

from agent_runtime.core.specs import AgentSpec, FactInput, Scope
from agent_runtime.facts import context
from agent_runtime.runtime import Runtime

TOPICS = ["sailing", "violin", "chess", "pottery", "tennis", "baking", "hiking", "opera"]


def scope_of(runtime: Runtime, window: int, count: int) -> tuple[str, Scope]:
    agent = runtime.create_agent(AgentSpec(name="a", context_window=window)).id
    scope = Scope(agent_id=agent)
    facts = [
        FactInput(
            text=f"friend number {n} enjoys {TOPICS[n % len(TOPICS)]} on weekends",
            valid_at=datetime(2024, 1, 1 + n % 28, tzinfo=UTC),
        )
        for n in range(count)
    ]
    runtime.facts.write("default", facts, scope)
    return agent, scope


def test_a_small_scope_over_the_budget_is_ranked_as_a_search_ranks_it(runtime: Runtime) -> None:
    # 40 facts, a budget of a few: read whole, ranked in memory; the order must be the search's
    agent_id, scope = scope_of(runtime, window=1000, count=40)
    agent = runtime.get_agent(agent_id)
    query = "who enjoys chess or opera in March 2024?"
    section = context.build(runtime.facts, runtime.services.counter, agent, query, None)
    assert section is not None and 0 < section.count < 40
    hits = runtime.facts.search("default", query, scope, limit=30, exact_scope=True)
    expected = [h.fact.text for h in hits][: section.count]
    shown = [line[2:].split(" [")[0] for line in section.text.splitlines() if line.startswith("- ")]
    assert shown == expected
    assert all(("chess" in t or "opera" in t) for t in shown[:4])


def test_a_small_scope_that_fits_is_shown_whole_words_first(runtime: Runtime) -> None:
    agent_id, _scope = scope_of(runtime, window=32000, count=12)
    agent = runtime.get_agent(agent_id)
    section = context.build(
        runtime.facts, runtime.services.counter, agent, "what about pottery?", None
    )
    assert section is not None and section.count == 12
    shown = [line for line in section.text.splitlines() if line.startswith("- ")]
    assert "pottery" in shown[0] and "pottery" in shown[1]
