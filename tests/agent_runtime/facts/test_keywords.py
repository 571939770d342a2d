"""Keyword ranking of facts (agent_runtime/facts/keywords.py): a large scope ranked from the
table's leaders gets the same order as the full join, and a narrow one falls back to it; a small
scope read whole is ranked in memory as the table ranks it, without touching the table's index."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import event
from sqlmodel import Session, select

from agent_runtime.core.specs import FactInput, Scope
from agent_runtime.facts.keywords import FactKeywords, rank_few
from agent_runtime.facts.search import Validity, scope_conditions
from agent_runtime.runtime import Runtime
from agent_runtime.storage.tables import Fact, utcnow


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
        assert not keywords.missed.use("big")[0]
        assert keywords.missed.use("small")[0]  # remembered: its next searches join at once
        assert keywords.missed.use("bob")[0]  # 6 of 66


def test_a_few_rows_rank_in_memory_as_the_table_ranks_them(runtime: Runtime, backend: str) -> None:
    """With the rows the whole table, BM25 over them is FTS5's own: the same order."""
    if backend != "sqlite":
        pytest.skip("PostgreSQL ranks by ts_rank, not BM25")
    facts = [
        *statements("Ada", 12),
        FactInput(text="Ada is living in Porto near the jam factory"),
        FactInput(text="Ada lives in Porto"),
        FactInput(text="Ada's badge is ACME-42"),
        FactInput(text="Ada met acme staff on floor 42"),
        FactInput(text="Ada's café is in Zürich"),
    ]
    runtime.facts.write("t", facts)
    with Session(runtime.engine) as session:
        rows = [(int(i or 0), t) for i, t in session.exec(select(Fact.id, Fact.text))]
        # At most two words: the table keeps every word then (more, and it drops common ones)
        for query in ["tea jam", "where does she live? Porto", "badge ACME-42", "cafe in zurich"]:
            table = FactKeywords().rank(session, query, [], 100)
            assert table and rank_few(query, rows) == table, query


def test_rank_few_matches_stems_and_identifiers_as_phrases() -> None:
    rows = [(1, "Ada lives in Porto"), (2, "Ada met acme staff on floor 42"), (3, "ACME-42 badge")]
    assert rank_few("living", rows) == [1]  # "living" and "lives" share the stem
    assert rank_few("ACME-42", rows)[0] == 3  # the identifier's words side by side
    assert rank_few("opera", rows) == []
    assert rank_few("zurich", [(5, "Ada moved to Zürich")]) == [5]  # as unicode61 folds it
    assert rank_few("", rows) == []


def test_a_small_scope_section_reads_no_keyword_index(runtime: Runtime) -> None:
    runtime.facts.write("other", statements("Zed", 30))  # another tenant shares the words
    runtime.facts.write("t", statements("Ada", 20), Scope(user_id="ada"))
    seen: list[str] = []

    def record(_conn: Any, _cursor: Any, sql: str, *_args: Any) -> None:
        seen.append(sql)

    event.listen(runtime.engine, "before_cursor_execute", record)
    try:
        found = runtime.facts.few("t", "tea and jam", Scope(user_id="ada"), most=60)
    finally:
        event.remove(runtime.engine, "before_cursor_execute", record)
    assert found is not None and len(found) == 20
    assert all("Ada" in f.text for f in found)
    assert "jam" in found[0].text  # "tea" is in most of the scope: it weighs next to nothing
    assert seen and not [sql for sql in seen if "fact_fts" in sql or "tsv" in sql]


def test_a_scope_that_did_not_fit_starts_its_embedding_before_the_read(runtime: Runtime) -> None:
    runtime.facts.write("t", statements("Ada", 20), Scope(user_id="ada"))
    events: list[str] = []
    pool = runtime.facts.searcher.pool
    submit = pool.submit

    def record_submit(*args: Any, **kwargs: Any) -> Any:
        events.append("embed")
        return submit(*args, **kwargs)

    def record(_conn: Any, _cursor: Any, sql: str, *_args: Any) -> None:
        if "FROM fact" in sql and "valid_at DESC" in sql:
            events.append("read")

    pool.submit = record_submit  # type: ignore[method-assign]
    event.listen(runtime.engine, "before_cursor_execute", record)
    try:
        few = runtime.facts.few
        ranked = few("t", "tea and jam", Scope(user_id="ada"), most=60, whole=lambda _r: False)
        assert events == ["read", "embed"] and ranked is not None and len(ranked) == 20
        events.clear()
        again = few("t", "tea and jam", Scope(user_id="ada"), most=60, whole=lambda _r: False)
        assert events == ["embed", "read"]  # it did not fit last time: started beside the read
        assert again is not None and [f.id for f in again] == [f.id for f in ranked]
        events.clear()
        few("t", "tea and jam", Scope(user_id="bob"), most=60, whole=lambda _r: False)
        assert events == ["read"]  # another scope: nothing known, nothing to embed (no facts)
    finally:
        pool.submit = submit  # type: ignore[method-assign]
        event.remove(runtime.engine, "before_cursor_execute", record)
