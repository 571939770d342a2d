from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from agent_runtime.core.specs import AgentSpec, PassageInput
from agent_runtime.retrieval.indexer import BATCH, CATCH_UP_BATCHES
from agent_runtime.retrieval.search import Fusion, fuse
from agent_runtime.retrieval.vector_index import MemoryIndex, Space
from agent_runtime.runtime import Runtime


def day(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


class Blind:
    """An embedder that sees nothing: every text gets the same vector, so dense search is noise."""

    name = "blind"
    dimension = 8

    def embed(self, texts: list[str]) -> np.ndarray:
        out = np.zeros((len(texts), 8), dtype=np.float32)
        out[:, 0] = 1.0
        return out


def test_an_exact_identifier_is_found_when_dense_search_misses_it(runtime: Runtime) -> None:
    runtime.services.embedders._made["fake"] = Blind()  # type: ignore[assignment]
    agent_id = runtime.create_agent(AgentSpec(name="s", embedding="fake")).id
    for i in range(40):
        runtime.insert_passage(agent_id, f"routine note {i} about the weekly sync")
    runtime.insert_passage(agent_id, "refund for order ORD-88213-X was approved")
    hits, _ = runtime.search_archival(agent_id, "ORD-88213-X", limit=3)
    assert hits[0].text == "refund for order ORD-88213-X was approved"


def test_a_date_range_excludes_what_lies_outside_it(runtime: Runtime) -> None:
    agent_id = runtime.create_agent(AgentSpec(name="s")).id
    runtime.insert_passage(agent_id, "dentist appointment", created_at=day("2024-01-10"))
    runtime.insert_passage(agent_id, "dentist appointment again", created_at=day("2024-03-05"))
    runtime.insert_passage(agent_id, "dentist follow-up", created_at=day("2024-05-20"))
    hits, total = runtime.search_archival(
        agent_id, "dentist", start=day("2024-02-01"), end=day("2024-04-30T23:59:59")
    )
    assert [h.text for h in hits] == ["dentist appointment again"]
    assert total == 1
    assert hits[0].created_at == day("2024-03-05")


def test_tags_filter_both_lists(runtime: Runtime) -> None:
    agent_id = runtime.create_agent(AgentSpec(name="s")).id
    runtime.insert_passage(agent_id, "tea is preferred", tags=["pref"])
    runtime.insert_passage(agent_id, "tea shop opens at nine", tags=["place"])
    hits, _ = runtime.search_archival(agent_id, "tea", tags=["pref"])
    assert [h.text for h in hits] == ["tea is preferred"]


def test_fusion_keeps_both_kinds_of_hit() -> None:
    keyword_only, dense_only = 1, 2
    fused = fuse([([keyword_only, 3, 4], 1.0), ([dense_only, 3, 5], 1.0)], k=60)
    assert fused[0] == 3  # in both lists
    assert set(fused[:3]) == {3, keyword_only, dense_only}


def test_weights_shift_the_fusion() -> None:
    fused = fuse([([1, 2], 2.0), ([2, 1], 1.0)], k=60)
    assert fused == [1, 2]


def test_meaning_alone_finds_a_passage_without_shared_words(runtime: Runtime) -> None:
    # the fake embedder is a bag of words, so "boat" matches "boat" densely while the keyword
    # side (stop words only in the query apart from boat) also agrees; check ordering holds
    agent_id = runtime.create_agent(AgentSpec(name="s")).id
    runtime.insert_passage(agent_id, "the boat is red")
    runtime.insert_passage(agent_id, "a cat sat")
    hits, _ = runtime.search_archival(agent_id, "what colour is the boat")
    assert hits[0].text == "the boat is red"


def test_recall_search_skips_tool_output_unless_asked(runtime: Runtime, fake_llm) -> None:  # type: ignore[no-untyped-def]
    agent_id = runtime.create_agent(AgentSpec(name="s")).id
    fake_llm.reply(archival_memory_insert={"content": "walrus facts"})
    fake_llm.reply("stored the walrus")
    runtime.send(agent_id, ["keep walrus facts"])
    hits, _ = runtime.search_recall(agent_id, "walrus")
    assert {h.role for h in hits} <= {"user", "assistant"}
    assert not any("stored as passage" in h.text for h in hits)
    hits, _ = runtime.search_recall(agent_id, "stored passage", roles=["tool"])
    assert hits and all(h.role == "tool" for h in hits)
    assert "stored as passage" in hits[0].text


def test_tenants_cannot_see_each_other(runtime: Runtime) -> None:
    import pytest

    from agent_runtime.core.errors import NotFound

    agent_id = runtime.create_agent(AgentSpec(name="mine"), tenant="acme").id
    with pytest.raises(NotFound):
        runtime.get_agent(agent_id, tenant="globex")
    with pytest.raises(NotFound):
        runtime.search_archival(agent_id, "x", tenant="globex")
    assert runtime.list_agents(tenant="globex") == []


def test_a_turn_is_found_through_the_turn_before_it(runtime: Runtime) -> None:
    from agent_runtime.core.specs import PassageInput

    agent_id = runtime.create_agent(AgentSpec(name="s")).id
    filler = [PassageInput(f"user: small talk number {i} about the weather") for i in range(30)]
    question = PassageInput("user: where should we moor the catamaran tonight?")
    answer = PassageInput(
        "assistant: pier seven, next to the fish market",
        prior="user: where should we moor the catamaran tonight?",
    )
    runtime.insert_passages(agent_id, [*filler, question, answer, *filler], origin="paged")
    hits, _ = runtime.search_archival(agent_id, "catamaran mooring", limit=3)
    texts = [h.text for h in hits]
    assert answer.text in texts and question.text in texts
    assert all("context" not in t for t in texts)  # context is searched, never shown


def test_neighbours_pass_on_part_of_their_score() -> None:
    from agent_runtime.retrieval.search import spread_to_neighbours

    scores = spread_to_neighbours({10: 1.0, 50: 0.2}, {9, 10, 11, 12, 50}, 0.4, 2)
    assert scores[11] == pytest.approx(0.4) and scores[9] == pytest.approx(0.4)
    assert scores[12] == pytest.approx(0.2)  # half as much two steps away
    assert 8 not in scores and 49 not in scores  # only paged neighbours receive
    assert scores[10] == 1.0


def test_a_search_after_a_bulk_load_indexes_only_the_newest_rows_itself(
    runtime: Runtime, vector_index: MemoryIndex, monkeypatch: pytest.MonkeyPatch
) -> None:
    agent_id = runtime.create_agent(AgentSpec(name="bulk")).id
    indexer = runtime.services.indexer
    with monkeypatch.context() as patch:
        patch.setattr(indexer, "schedule", lambda _agent_id: None)  # the background is slow
        runtime.insert_passages(agent_id, [PassageInput(f"routine row {i}") for i in range(700)])
        newest = runtime.insert_passage(agent_id, "a heron stood in the reeds")
        hits, _ = runtime.search_archival(agent_id, "heron")
        assert hits[0].id == newest.id
        batches = CATCH_UP_BATCHES * BATCH
        assert indexer.status()["pending_rows"] == 701 - batches  # the search did not wait
        name = Space.of(runtime.services.embedders.get("fake"), agent_id, "passage")
        vector = runtime.services.embedders.get("fake").embed(["heron reeds"])[0]
        assert vector_index.query(name, vector, 1, None)[0].id.startswith(f"p:{newest.id}")
    indexer.schedule(agent_id)  # what the search asked for, now that the background runs
    for _ in range(100):  # bounded: 10 s
        if indexer.status()["pending_rows"] == 0:
            break
        time.sleep(0.1)
    assert indexer.status()["pending_rows"] == 0


def test_a_date_in_the_query_brings_that_days_memories_forward(runtime: Runtime) -> None:
    agent_id = runtime.create_agent(AgentSpec(name="s")).id
    runtime.insert_passage(
        agent_id, "dentist dentist: booked the dentist", created_at=day("2024-01-10")
    )
    runtime.insert_passage(agent_id, "saw the dentist about a tooth", created_at=day("2024-03-05"))
    runtime.insert_passage(
        agent_id, "dentist dentist follow-up booked", created_at=day("2024-05-20")
    )
    query = "what did the dentist say on 5 March, 2024?"

    hits, total = runtime.search_archival(agent_id, query, limit=3)
    assert hits[0].created_at == day("2024-03-05")
    assert total == 3  # a preference, not a filter

    runtime.services.searcher.fusion = Fusion(time_weight=0.0)
    hits, _ = runtime.search_archival(agent_id, query, limit=3)
    assert hits[0].created_at != day("2024-03-05")  # without it, word counts win


def test_yesterday_in_a_conversation_search_counts_from_the_searchers_clock(
    runtime: Runtime, fake_llm
) -> None:  # type: ignore[no-untyped-def]
    from sqlmodel import Session, col, select

    from agent_runtime.storage.tables import Message

    agent_id = runtime.create_agent(AgentSpec(name="s")).id
    fake_llm.reply("noted")
    runtime.send(agent_id, ["locker code, locker code: the old locker code was 4410"])
    fake_llm.reply("noted again")
    runtime.send(agent_id, ["the new locker code is 9921"])
    with Session(runtime.services.engine) as session:
        old = session.exec(select(Message).where(col(Message.content).contains("4410"))).one()
        old.created_at = datetime.now(UTC) - timedelta(days=20)
        session.add(old)
        session.commit()
    query = "what was my locker code yesterday?"

    runtime.services.searcher.clock = lambda: datetime.now(UTC) + timedelta(days=1)
    hits, _ = runtime.search_recall(agent_id, query, roles=["user"], limit=1)
    assert "9921" in hits[0].text

    runtime.services.searcher.clock = lambda: datetime.now(UTC) + timedelta(days=30)
    hits, _ = runtime.search_recall(agent_id, query, roles=["user"], limit=1)
    assert "4410" in hits[0].text  # no message in that window: word counts decide


def test_a_reply_is_found_through_the_message_it_answers(runtime: Runtime) -> None:
    from agent_runtime.core.specs import MessageInput
    from agent_runtime.embedding.fake import FakeEmbedder

    runtime.services.embedders._made["fake"] = FakeEmbedder(dimension=4096)  # no collisions
    agent_id = runtime.create_agent(AgentSpec(name="s", embedding="fake")).id
    filler = [MessageInput("user", f"small talk number {i} about the weather") for i in range(30)]
    question = MessageInput("user", "where should we moor the catamaran tonight?")
    answer = MessageInput("assistant", "pier seven, next to the fish market")
    aside = MessageInput("user", "hmm, let me think")  # so the answer's keyword context is this
    runtime.import_messages(agent_id, [*filler, question, aside, answer, *filler])

    def rank_of_answer() -> int:
        hits, _ = runtime.search_recall(agent_id, "catamaran mooring", limit=100)
        return [h.text for h in hits].index(answer.content)

    spread = rank_of_answer()
    runtime.services.searcher.fusion = Fusion(neighbour_weight=0.0)
    alone = rank_of_answer()  # its own words do not match: only dense noise places it
    assert spread < 10 < alone, (spread, alone)


def test_tool_output_next_to_a_hit_gets_none_of_its_score(runtime: Runtime, fake_llm) -> None:  # type: ignore[no-untyped-def]
    agent_id = runtime.create_agent(AgentSpec(name="s")).id
    fake_llm.reply(archival_memory_insert={"content": "the pelican is called Gus"})
    fake_llm.reply("stored")
    runtime.send(agent_id, ["remember the pelican is called Gus"])
    for i in range(20):
        fake_llm.reply(f"reply {i}")
        runtime.send(agent_id, [f"chatter {i} about nothing"])
    hits, total = runtime.search_recall(agent_id, "pelican Gus", limit=50)
    assert {h.role for h in hits} <= {"user", "assistant"} and total == len(hits)


def test_messages_carry_the_spoken_message_before_them(runtime: Runtime, fake_llm) -> None:  # type: ignore[no-untyped-def]
    from sqlmodel import Session, col, select

    from agent_runtime.storage.tables import Message

    agent_id = runtime.create_agent(AgentSpec(name="s")).id
    fake_llm.reply(archival_memory_search={"query": "mooring"})
    fake_llm.reply("pier seven, next to the fish market")
    runtime.send(agent_id, ["where should we moor the catamaran tonight?"])
    fake_llm.reply("you're welcome")
    runtime.send(agent_id, ["thanks"])
    with Session(runtime.services.engine) as session:
        rows = session.exec(select(Message).order_by(col(Message.id))).all()
    assert [(m.role, m.prior) for m in rows] == [
        ("user", ""),
        ("assistant", ""),  # the tool call: no text of its own to be found by
        ("tool", ""),
        ("assistant", "where should we moor the catamaran tonight?"),
        ("user", "pier seven, next to the fish market"),
        ("assistant", "thanks"),
    ]


def test_a_reply_matches_the_words_of_the_message_it_answers(runtime: Runtime) -> None:
    from agent_runtime.core.specs import MessageInput

    runtime.services.embedders._made["fake"] = Blind()  # type: ignore[assignment]
    runtime.services.searcher.fusion = Fusion(neighbour_weight=0.0)  # words alone
    agent_id = runtime.create_agent(AgentSpec(name="s", embedding="fake")).id
    filler = [MessageInput("user", f"small talk number {i} about the weather") for i in range(30)]
    question = MessageInput("user", "where should we moor the catamaran tonight?")
    answer = MessageInput("assistant", "pier seven, next to the fish market")
    runtime.import_messages(agent_id, [*filler, question, answer, *filler])
    hits, _ = runtime.search_recall(agent_id, "catamaran mooring", limit=2)
    assert [h.text for h in hits] == [question.content, answer.content]
