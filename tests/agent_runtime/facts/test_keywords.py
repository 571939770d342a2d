"""Keyword ranking of facts (agent_runtime/facts/keywords.py): a large scope ranked from the
table's leaders gets the same order as the full join, and a narrow one falls back to it."""

from __future__ import annotations

from sqlmodel import Session

from agent_runtime.core.specs import FactInput, Scope
from agent_runtime.facts.keywords import FactKeywords, Leaders
from agent_runtime.facts.search import Validity, scope_conditions
from agent_runtime.runtime import Runtime
from agent_runtime.storage.tables import utcnow


def statements(who: str, n: int) -> list[FactInput]:
    words = ["tea", "tea and cake", "cake", "tea, cake and jam", "jam"]
    return [FactInput(text=f"{who} likes {words[i % 5]} number {i}") for i in range(n)]


def test_leaders_rank_a_large_scope_as_the_full_join_does(runtime: Runtime, backend: str) -> None:
    runtime.facts.write("big", statements("Ada", 60), Scope(user_id="ada"))
    runtime.facts.write("big", statements("Bob", 6), Scope(user_id="bob"))
    runtime.facts.write("small", statements("Cy", 4))
    keywords = FactKeywords()
    now = utcnow()

    def ranked(tenant: str, scope: Scope, large: str | None) -> list[int]:
        conditions = [*scope_conditions(tenant, scope), *Validity().conditions(now)]
        with Session(runtime.engine) as session:
            return keywords.rank(session, "tea cake jam", conditions, 8, large)

    whole = ranked("big", Scope(), None)
    assert len(whole) == 8
    assert ranked("big", Scope(), "big") == whole
    assert ranked("big", Scope(user_id="bob"), "bob") == ranked("big", Scope(user_id="bob"), None)
    small = ranked("small", Scope(), "small")  # 4 of 70: the leaders cannot serve it
    assert 0 < len(small) < 8 and small == ranked("small", Scope(), None)
    if backend == "sqlite":  # PostgreSQL ranks in the row table: no leaders to read
        assert keywords.leaders.worth_trying("big")
        assert not keywords.leaders.worth_trying("small")
        assert not keywords.leaders.worth_trying("bob")  # 6 of 66


def test_a_scope_the_leaders_missed_is_tried_again_later() -> None:
    leaders = Leaders()
    leaders.missed("s")
    skipped = 0
    while not leaders.worth_trying("s"):
        skipped += 1
    assert skipped == Leaders.RETRY
    assert leaders.worth_trying("s")
