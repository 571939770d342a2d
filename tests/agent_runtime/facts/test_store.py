"""The fact store's rules, searches and lifetimes, on SQLite and PostgreSQL (the `runtime`
fixture runs each test on both)."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from agent_runtime.core.errors import InvalidInput, NotFound
from agent_runtime.core.specs import FactInput, Scope
from agent_runtime.facts import vectors as vectors_
from agent_runtime.facts.store import FactMemory, FactPatch
from agent_runtime.retrieval.vector_index import MemoryIndex
from agent_runtime.runtime import Runtime

ADA = Scope(user_id="ada")
BOB = Scope(user_id="bob")


def year(y: int, month: int = 1) -> datetime:
    return datetime(y, month, 1, tzinfo=UTC)


def lives(city: str, y: int, **more: object) -> FactInput:
    return FactInput(subject="Ada", attribute="lives_in", value=city, valid_at=year(y), **more)  # type: ignore[arg-type]


def likes(thing: str, **more: object) -> FactInput:
    return FactInput(subject="Ada", attribute="likes", value=thing, **more)  # type: ignore[arg-type]


def current(facts: FactMemory, query: str, **search: object) -> list[str]:
    return [h.fact.text for h in facts.search("default", query, ADA, **search)]  # type: ignore[arg-type]


def test_a_newer_value_supersedes_the_current_one_and_both_stay(runtime: Runtime) -> None:
    facts = runtime.facts
    first = facts.write("default", [lives("Porto", 2020)], ADA).added[0]
    result = facts.write("default", [lives("Lisbon", 2022)], ADA)
    [(old, by)] = result.superseded
    assert old.id == first.id and by == result.added[0].id
    assert old.invalid_at == year(2022) and old.expired_at is not None
    assert current(facts, "where does Ada live") == ["Ada lives in Lisbon"]
    kept = facts.list_("default", ADA, include_history=True)
    assert sorted(f.value for f in kept) == ["Lisbon", "Porto"]
    events = [(e.event, e.old_value, e.new_value) for e in facts.history("default", first.id)]  # type: ignore[arg-type]
    assert events == [("added", None, "Porto"), ("superseded", "Porto", "Lisbon")]


def test_a_value_that_arrives_late_is_filed_as_past(runtime: Runtime) -> None:
    facts = runtime.facts
    facts.write("default", [lives("Porto", 2020), lives("Lisbon", 2022)], ADA)
    late = facts.write("default", [lives("Braga", 2021)], ADA)
    braga = late.added[0]
    assert braga.invalid_at == year(2022) and braga.retired == "superseded"
    assert [o.value for o, _by in late.superseded] == ["Porto"]  # Porto now ends in 2021
    assert current(facts, "where does Ada live") == ["Ada lives in Lisbon"]
    assert current(facts, "where does Ada live", as_of=year(2021, 6)) == ["Ada lives in Braga"]
    assert current(facts, "where does Ada live", as_of=year(2020, 6)) == ["Ada lives in Porto"]
    assert current(facts, "where does Ada live", as_of=year(2019)) == []


def test_the_next_value_said_earlier_starts_earlier(runtime: Runtime) -> None:
    facts = runtime.facts
    facts.write("default", [lives("Porto", 2020), lives("Lisbon", 2022)], ADA)
    result = facts.write("default", [lives("lisbon", 2021)], ADA)
    assert [f.value for f in result.merged] == ["Lisbon"] and not result.added
    assert current(facts, "where does Ada live", as_of=year(2021, 6)) == ["Ada lives in Lisbon"]


def test_many_valued_slots_accumulate_and_only_a_negation_retires(runtime: Runtime) -> None:
    facts = runtime.facts
    facts.write("default", [likes("sushi"), likes("jazz"), likes("hiking")], ADA)
    assert not facts.write("default", [likes("tea")], ADA).superseded
    negated = facts.write("default", [likes("sushi", negates=True)], ADA)
    assert [f.value for f in negated.negated] == ["sushi"]
    listed = facts.list_("default", ADA, filters={"attribute": "likes"})
    assert sorted(f.value for f in listed) == ["hiking", "jazz", "tea"]
    history = facts.list_("default", ADA, filters={"attribute": "likes"}, include_history=True)
    assert {f.value: f.retired for f in history}["sushi"] == "negated"
    nothing = facts.write("default", [likes("opera", negates=True)], ADA)
    assert nothing.unchanged and not nothing.negated


def test_the_same_fact_again_merges_into_one_row(runtime: Runtime) -> None:
    facts = runtime.facts
    first = facts.write("default", [likes("Sushi", evidence=["D1:3"])], ADA).added[0]
    again = facts.write("default", [likes("sushi.", evidence=["D2:7"])], ADA)
    assert [f.id for f in again.merged] == [first.id] and not again.added
    assert again.merged[0].evidence == ["D1:3", "D2:7"]
    # a free statement said in other words (the same words here, for the test embedder)
    said = facts.write("default", [FactInput(text="Ada's favourite food is ramen")], ADA)
    reworded = facts.write("default", [FactInput(text="ramen is Ada's favourite food")], ADA)
    assert [f.id for f in reworded.merged] == [said.added[0].id]
    other = facts.write("default", [FactInput(text="Ada's favourite film is Alien")], ADA)
    assert other.added
    assert len(facts.list_("default", ADA, include_history=True)) == 3


def test_scopes_keep_slots_apart(runtime: Runtime) -> None:
    facts = runtime.facts
    facts.write("default", [lives("Porto", 2020)], Scope(user_id="ada"))
    facts.write("default", [lives("Oslo", 2021)], Scope(user_id="bo"))
    assert current(facts, "Ada lives") == ["Ada lives in Porto"]
    bo = facts.search("default", "Ada lives", Scope(user_id="bo"))
    assert [h.fact.value for h in bo] == ["Oslo"]


def test_filters_on_fields_and_metadata(runtime: Runtime) -> None:
    facts = runtime.facts
    facts.write(
        "default",
        [
            likes("sushi", kind="preference", metadata={"topic": "food", "score": 3}),
            likes("jazz", kind="preference", metadata={"topic": "music", "score": 7}),
            FactInput(text="Ada ran a marathon", kind="event", metadata={"topic": "sport"}),
        ],
        ADA,
    )

    def found(**filters: object) -> list[str]:
        return sorted(f.value for f in facts.list_("default", ADA, filters=filters))

    assert found(**{"metadata.topic": "food"}) == ["sushi"]
    assert found(**{"metadata.topic": {"in": ["food", "music"]}}) == ["jazz", "sushi"]
    assert found(**{"metadata.score": {"gte": 5}}) == ["jazz"]
    assert found(kind="event") == ["Ada ran a marathon"]
    assert found(kind={"ne": "event"}, subject="ADA") == ["jazz", "sushi"]
    hits = facts.search("default", "Ada likes", ADA, filters={"metadata.topic": "music"})
    assert [h.fact.value for h in hits] == ["jazz"]
    with pytest.raises(InvalidInput, match="cannot filter on"):
        facts.list_("default", ADA, filters={"tenant_id": "other"})
    with pytest.raises(InvalidInput, match="unknown operator"):
        facts.list_("default", ADA, filters={"kind": {"like": "%"}})


def test_search_ranks_by_meaning_and_keywords_and_honours_a_threshold(runtime: Runtime) -> None:
    facts = runtime.facts
    facts.write(
        "default",
        [
            FactInput(text="Ada is allergic to peanuts"),
            FactInput(text="Ada plays the cello on Sundays"),
            FactInput(text="Ada's sister Mia lives in Rome"),
        ],
        ADA,
    )
    hits = facts.search("default", "which allergy does Ada have: peanuts?", ADA)
    assert hits[0].fact.text == "Ada is allergic to peanuts"
    assert hits[0].similarity > hits[-1].similarity
    strict = facts.search("default", "peanuts allergic", ADA, threshold=0.99)
    assert strict == []


class TwoWays:
    """Questions and "near" statements point one way, every other text the other."""

    name = "two-ways"
    dimension = 2

    def embed(self, texts: list[str]) -> np.ndarray:
        return np.array(
            [[0.0, 1.0] if t.startswith("which") or "near" in t else [1.0, 0.0] for t in texts],
            dtype=np.float32,
        )


def test_a_threshold_reaches_past_the_leading_hits_it_turns_away(runtime: Runtime) -> None:
    facts = FactMemory(runtime.engine, MemoryIndex(), TwoWays, lambda _s, _c: {})
    far = [FactInput(text=f"Ada keeps far thing number {n}") for n in range(5)]
    facts.write("default", [*far, FactInput(text="Ada keeps a thing near")], ADA)
    ranked = facts.search("default", "which far thing Ada keeps", ADA, limit=6)
    assert [h.fact.text for h in ranked].index("Ada keeps a thing near") >= 2
    [hit] = facts.search("default", "which far thing Ada keeps", ADA, limit=1, threshold=0.5)
    assert hit.fact.text == "Ada keeps a thing near" and hit.similarity == pytest.approx(1.0)


def test_delete_retires_and_purge_erases(runtime: Runtime, vector_index: MemoryIndex) -> None:
    facts = runtime.facts
    kept = facts.write("default", [lives("Porto", 2020)], ADA).added[0]
    gone = facts.write("default", [FactInput(text="Ada's passport number is X123")], ADA).added[0]
    assert kept.id is not None and gone.id is not None
    facts.delete("default", kept.id)
    assert facts.get("default", kept.id).retired == "deleted"
    assert "Ada lives in Porto" not in current(facts, "Ada lives Porto")
    assert [e.event for e in facts.history("default", kept.id)][-1] == "deleted"

    def vectors() -> list[str]:
        return [i for space in vector_index.collections() for i in vector_index.ids(space)]

    assert f"f:{gone.id}" in vectors()
    erased = facts.delete("default", gone.id, purge=True)
    assert erased["purged"] and erased["erased"]["history_events"] == 1
    row = facts.get("default", gone.id)
    assert (row.text, row.value, row.vector, row.subject) == ("", "", None, "")
    assert f"f:{gone.id}" not in vectors()
    assert all(
        e.old_value is None and e.new_value is None for e in facts.history("default", gone.id)
    )
    assert "X123" not in " ".join(current(facts, "passport number X123"))


def test_every_lookup_is_scoped_to_the_tenant(runtime: Runtime) -> None:
    facts = runtime.facts
    mine = facts.write("acme", [lives("Porto", 2020)], ADA).added[0]
    assert mine.id is not None
    for call in (
        lambda: facts.get("globex", mine.id),  # type: ignore[arg-type]
        lambda: facts.history("globex", mine.id),  # type: ignore[arg-type]
        lambda: facts.patch("globex", mine.id, FactPatch(value="Oslo")),  # type: ignore[arg-type]
        lambda: facts.delete("globex", mine.id, purge=True),  # type: ignore[arg-type]
    ):
        with pytest.raises(NotFound):
            call()
    assert facts.search("globex", "Ada lives Porto", ADA) == []
    assert facts.list_("globex", ADA) == []
    # the same slot in another tenant is another slot
    facts.write("globex", [lives("Oslo", 2021)], ADA)
    assert [h.fact.value for h in facts.search("acme", "Ada lives", ADA)] == ["Porto"]
    with pytest.raises(NotFound):  # an agent scope names the caller's own agent
        facts.write("globex", [lives("Rome", 2022)], Scope(agent_id="agent-nope"))


def test_a_correction_keeps_the_old_value_in_history(runtime: Runtime) -> None:
    facts = runtime.facts
    row = facts.write("default", [lives("Prto", 2020)], ADA).added[0]
    assert row.id is not None
    fixed = facts.patch("default", row.id, FactPatch(value="Porto"))
    assert fixed.text == "Ada lives in Porto"
    assert current(facts, "Porto") == ["Ada lives in Porto"]
    last = facts.history("default", row.id)[-1]
    assert (last.event, last.old_value, last.new_value) == ("updated", "Prto", "Porto")


def test_expired_facts_leave_search_at_once_and_the_sweep_purges_them(
    runtime: Runtime, vector_index: MemoryIndex
) -> None:
    facts = runtime.facts
    short = facts.write("default", [FactInput(text="Ada is in Paris this week", ttl_days=7)], ADA)
    event = facts.write("default", [FactInput(text="Ada ran a marathon", kind="event")], ADA)
    lasting = facts.write("default", [likes("sushi")], ADA)
    assert event.added[0].expires_at is not None  # events live 365 days by default
    assert lasting.added[0].expires_at is None  # preferences and facts never expire
    later = datetime.now(UTC) + timedelta(days=8)
    facts.clock = lambda: later
    assert "Ada is in Paris this week" not in current(facts, "Ada Paris this week")
    assert facts.counts()["expired"] == 1
    assert facts.expire() == 1
    assert facts.counts()["facts"] == 2
    ids = {i for space in vector_index.collections() for i in vector_index.ids(space)}
    assert f"f:{short.added[0].id}" not in ids
    with pytest.raises(NotFound):
        facts.get("default", short.added[0].id)  # type: ignore[arg-type]


def test_an_agent_sets_its_own_episodic_lifetime(runtime: Runtime) -> None:
    from agent_runtime.core.specs import AgentSpec

    agent = runtime.create_agent(AgentSpec(name="brief", memory_ttl={"event": 2}))
    row = runtime.facts.write(
        "default", [FactInput(text="Ada met Bo", kind="event")], Scope(agent_id=agent.id)
    ).added[0]
    assert row.expires_at is not None
    assert row.expires_at - row.created_at == timedelta(days=2)


def test_concurrent_writes_to_one_slot_leave_one_current_value(runtime: Runtime) -> None:
    facts = runtime.facts
    cities = ["Porto", "Lisbon", "Oslo", "Rome", "Paris", "Berlin"]
    errors: list[BaseException] = []

    def write(city: str) -> None:
        try:
            facts.write(
                "default", [FactInput(subject="Ada", attribute="lives_in", value=city)], ADA
            )
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(c,)) for c in cities]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert errors == []
    now = facts.list_("default", ADA)
    assert len(now) == 1
    assert len(facts.list_("default", ADA, include_history=True)) == len(cities)


def test_paged_turns_expire_and_the_sweep_purges_passages(
    runtime: Runtime, vector_index: MemoryIndex
) -> None:
    from agent_runtime.core.specs import AgentSpec, PassageInput

    agent = runtime.create_agent(AgentSpec(name="forgetful"))
    soon = datetime.now(UTC) + timedelta(days=1)
    runtime.insert_passages(
        agent.id,
        [PassageInput("Ada visited Kyoto", expires_at=soon), PassageInput("Ada likes Kyoto")],
    )
    runtime.search_archival(agent.id, "Kyoto")  # indexes them
    visit = runtime.passages(agent.id)[0]
    assert visit.text == "Ada visited Kyoto"

    def vectors() -> set[str]:
        return {i for space in vector_index.collections() for i in vector_index.ids(space)}

    assert f"p:{visit.id}" in vectors()
    later = datetime.now(UTC) + timedelta(days=2)
    runtime.services.searcher.clock = lambda: later
    runtime.expiry.clock = lambda: later
    assert [h.text for h in runtime.search_archival(agent.id, "Kyoto")[0]] == ["Ada likes Kyoto"]
    assert runtime.expiry.status(None)["expired_passages_waiting"] == 1
    assert runtime.expiry.sweep() == {"facts": 0, "passages": 1}
    fresh = runtime.get_agent(agent.id)
    assert (fresh.passage_count, fresh.expired_passage_count) == (1, 1)
    assert [p.text for p in runtime.passages(agent.id)] == ["Ada likes Kyoto"]
    assert f"p:{visit.id}" not in vectors()
    assert runtime.expiry.sweep() == {"facts": 0, "passages": 0}  # never twice
    memory = runtime.health(tenant=None)["memory"]
    assert memory["purged_since_start"]["passages"] == 1  # type: ignore[index]


class SameVector:
    """Every text the same vector: only the anchors keep statements apart."""

    name = "same"
    dimension = 4

    def embed(self, texts: list[str]) -> np.ndarray:
        return np.tile(np.array([1.0, 0, 0, 0], dtype=np.float32), (len(texts), 1))


def test_near_duplicates_merge_only_with_the_same_names_and_numbers(runtime: Runtime) -> None:
    facts = FactMemory(runtime.engine, MemoryIndex(), SameVector, lambda _s, _c: {})
    books = [FactInput(text=f"Ada owns book {x}") for x in "BCD"]
    assert len(facts.write("default", books, ADA).added) == 3
    moves = [lives("Porto", 2020), lives("Lisbon", 2021)]
    assert len(facts.write("default", moves, ADA).superseded) == 1
    said = facts.write("default", [FactInput(text="Ada's favourite food is ramen")], ADA)
    again = facts.write("default", [FactInput(text="Her favourite food: ramen, says Ada's")], ADA)
    assert [f.id for f in again.merged] == [said.added[0].id]
    kids = facts.write(
        "default", [FactInput(text="Mia has 2 kids"), FactInput(text="Mia has 3 kids")], ADA
    )
    assert len(kids.added) == 2


class QueryFails(MemoryIndex):
    """An index that takes vectors but cannot be asked."""

    def query(self, *args: object, **kwargs: object) -> list:  # type: ignore[override]
        raise RuntimeError("index down")


def test_near_duplicates_are_found_from_sql_with_the_index_down(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    facts = FactMemory(runtime.engine, QueryFails(), SameVector, lambda _s, _c: {})
    said = facts.write("default", [FactInput(text="Ada's favourite food is ramen")], ADA)
    again = facts.write("default", [FactInput(text="Her favourite food: ramen, says Ada's")], ADA)
    assert [f.id for f in again.merged] == [said.added[0].id]
    other = facts.write("default", [FactInput(text="Ada's favourite food is ramen")], BOB)
    assert other.added  # another scope's statement is not a duplicate
    monkeypatch.setattr(vectors_, "SCANNED", 1)  # a subject this big asks the index instead
    index = MemoryIndex()
    big = FactMemory(runtime.engine, index, SameVector, lambda _s, _c: {})
    big.write("default", [FactInput(text="Ada owns book B"), FactInput(text="Ada owns book C")])
    asked = []
    monkeypatch.setattr(index, "query", lambda *a, **k: asked.append(a) or [])
    big.write("default", [FactInput(text="Ada owns book B, says Ada")])
    assert asked


def test_in_a_slot_only_the_values_words_make_two_facts_one(runtime: Runtime) -> None:
    facts = FactMemory(runtime.engine, MemoryIndex(), SameVector, lambda _s, _c: {})
    job = {"subject": "Fern", "attribute": "job_title"}
    facts.write("default", [FactInput(**job, value="software engineer", valid_at=year(2012))], ADA)  # type: ignore[arg-type]
    promoted = facts.write(
        "default",
        [FactInput(**job, value="senior software engineer", valid_at=year(2014))],
        ADA,  # type: ignore[arg-type]
    )
    assert [old.value for old, _by in promoted.superseded] == ["software engineer"]
    again = facts.write(
        "default",
        [FactInput(**job, value="Software Engineer, senior", valid_at=year(2015))],
        ADA,  # type: ignore[arg-type]
    )
    assert [f.value for f in again.merged] == ["senior software engineer"]


def test_a_negation_heard_first_ends_the_value_that_arrives_late(runtime: Runtime) -> None:
    facts = runtime.facts
    early = facts.write("default", [likes("goldfish", negates=True, valid_at=year(2014))], ADA)
    assert early.unchanged and not early.negated
    late = facts.write("default", [likes("goldfish", valid_at=year(2012))], ADA)
    [row] = late.added
    assert row.invalid_at == year(2014) and row.retired == "negated"
    assert facts.list_("default", ADA, filters={"attribute": "likes"}) == []
    then = facts.list_("default", ADA, filters={"attribute": "likes"}, as_of=year(2013))
    assert [f.value for f in then] == ["goldfish"]
    fresh = facts.write("default", [likes("goldfish", valid_at=year(2016))], ADA)
    assert fresh.added and fresh.added[0].invalid_at is None  # liked again after the "no"


def test_a_late_value_between_two_sayings_of_another_splits_it(runtime: Runtime) -> None:
    facts = runtime.facts
    facts.write("default", [lives("London", 2016), lives("London", 2020)], ADA)  # one row
    facts.write("default", [lives("Rome", 2018)], ADA)  # heard late, between the two
    assert current(facts, "where does Ada live") == ["Ada lives in London"]
    assert current(facts, "where does Ada live", as_of=year(2019)) == ["Ada lives in Rome"]
    assert current(facts, "where does Ada live", as_of=year(2017)) == ["Ada lives in London"]
