from __future__ import annotations

from agent_runtime.core.specs import AgentSpec
from agent_runtime.retrieval import parts
from agent_runtime.retrieval.corpus import PASSAGES
from agent_runtime.retrieval.vector_index import Space
from agent_runtime.runtime import Runtime


def test_a_single_sentence_has_no_parts_beyond_itself() -> None:
    assert parts.sentences("user: I like tea.") == []
    assert parts.vectors("p", 7, "I like tea.") == [("p:7", "I like tea.")]


def test_each_sentence_keeps_the_speaker_label() -> None:
    text = "Caroline: I went to a support group. It was powerful! Then I painted."
    assert parts.sentences(text) == [
        "Caroline: I went to a support group.",
        "Caroline: It was powerful!",
        "Caroline: Then I painted.",
    ]
    ids = [id_ for id_, _ in parts.vectors("m", 3, text)]
    assert ids == ["m:3", "m:3:1", "m:3:2", "m:3:3"]
    assert {parts.row_of(i) for i in ids} == {3}


def test_lines_are_parts_too() -> None:
    assert parts.sentences("Shopping list:\n- eggs\n\n- flour") == [
        "Shopping list:",
        "- eggs",
        "- flour",
    ]


def test_a_long_document_is_grouped_into_at_most_max_parts() -> None:
    text = " ".join(f"Sentence number {i} is here." for i in range(100))
    found = parts.sentences(text)
    assert len(found) <= parts.MAX_PARTS
    assert " ".join(found) == text  # grouped, nothing dropped


def test_rows_are_ranked_by_their_best_part() -> None:
    assert parts.rows_best_first(["p:4:2", "p:9", "p:4", "p:1:1"], 10) == [4, 9, 1]
    assert parts.rows_best_first(["p:4:2", "p:9", "p:4", "p:1:1"], 2) == [4, 9]


def test_a_sentence_buried_in_a_long_turn_is_found_densely(runtime: Runtime) -> None:
    agent_id = runtime.create_agent(AgentSpec(name="s")).id
    buried = (
        "user: The weather was grey all week. Work was busy with reports and meetings. "
        "We watched two films on Saturday. The garden needs weeding soon. "
        "My sister moved to Lisbon."
    )
    runtime.insert_passage(agent_id, buried)
    # each shares two of the query's three words: closer than the long turn's whole vector,
    # further than its last sentence
    for text in ("user: my sister moved house", "user: we moved near Lisbon"):
        runtime.insert_passage(agent_id, text)
    searcher = runtime.services.searcher
    embedder = runtime.services.embedders.get("fake")
    with runtime._read() as session:
        searcher.catch_up(session, agent_id)
    ranked = searcher.dense(embedder, agent_id, PASSAGES, "sister moved Lisbon", 4, None, None)
    rows = {p.id: p.text for p in runtime.passages(agent_id)}
    assert rows[ranked[0]] == buried


def test_deleting_a_passage_removes_every_vector_of_it(runtime: Runtime) -> None:
    agent_id = runtime.create_agent(AgentSpec(name="s")).id
    passage = runtime.insert_passage(agent_id, "user: First point. Second point. Third point.")
    runtime.search_archival(agent_id, "point")  # indexes it
    index = runtime.services.searcher.index
    name = Space.of(runtime.services.embedders.get("fake"), agent_id, "passage")
    vector = runtime.services.embedders.get("fake").embed(["point"])[0]
    assert len(index.query(name, vector, 10, None)) == 4
    runtime.delete_passage(agent_id, passage.id)
    assert index.query(name, vector, 10, None) == []
