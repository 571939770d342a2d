from __future__ import annotations

from pathlib import Path

from sqlalchemy import text

from agent_runtime.embedding.fake import FakeEmbedder
from agent_runtime.llm.scripted import ScriptedLLM
from agent_runtime.runtime import Runtime
from agent_runtime.settings import Settings
from agent_runtime.specs import AgentSpec, BlockSpec
from agent_runtime.storage.database import transaction
from agent_runtime.storage.tables import Passage
from agent_runtime.vector_index import collection_name


def open_runtime(home: Path, llm: ScriptedLLM, database_url: str | None = None) -> Runtime:
    # The real embedded Chroma, so vectors must survive the restart too.
    return Runtime(
        Settings(home=home, database_url=database_url),
        llm=llm,
        embedder_factory=lambda _n: FakeEmbedder(),
    )


def test_everything_survives_a_restart(tmp_path: Path, database_url: str | None) -> None:
    llm = ScriptedLLM()
    first = open_runtime(tmp_path, llm, database_url)
    agent_id = first.create_agent(
        AgentSpec(name="keeper", blocks=[BlockSpec("human", "Name: Ada")])
    ).id
    llm.reply(archival_memory_insert={"content": "The boat is moored at pier 7"})
    llm.reply("noted")
    first.send(agent_id, ["remember where the boat is"])
    first.close()

    second = open_runtime(tmp_path, llm, database_url)
    assert second.get_agent(agent_id).name == "keeper"
    assert second.block(agent_id, "human").value == "Name: Ada"
    assert [m.content for m in second.messages(agent_id)][0] == "remember where the boat is"
    hits, _ = second.search_archival(agent_id, "where is the boat moored")
    assert hits[0].text == "The boat is moored at pier 7"
    hits, _ = second.search_recall(agent_id, "boat")
    assert hits and "boat" in hits[0].text
    second.close()


def test_rows_left_unindexed_by_a_crash_are_indexed_by_the_sweep(
    tmp_path: Path, database_url: str | None
) -> None:
    llm = ScriptedLLM()
    runtime = open_runtime(tmp_path, llm, database_url)
    agent_id = runtime.create_agent(AgentSpec(name="k")).id
    with transaction(runtime.engine) as session:  # as if the process died before indexing
        session.add(Passage(agent_id=agent_id, text="orphaned zebra fact", tags=[]))
    assert runtime.services.indexer.sweep() == 1
    hits, _ = runtime.search_archival(agent_id, "zebra")
    assert [h.text for h in hits] == ["orphaned zebra fact"]
    assert runtime.services.indexer.sweep() == 0
    runtime.close()


def test_upgrading_adds_sentence_vectors_to_rows_indexed_before_them(
    tmp_path: Path, database_url: str | None
) -> None:
    first = open_runtime(tmp_path, ScriptedLLM(), database_url)
    agent_id = first.create_agent(AgentSpec(name="k")).id
    passage = first.insert_passage(agent_id, "user: The kiln is hot. My sister lives in Porto.")
    first.search_archival(agent_id, "kiln")  # indexed, sentences too
    name = collection_name(first.services.embedders.get("fake"), agent_id, "passage")
    sentence_ids = [f"p:{passage.id}:1", f"p:{passage.id}:2"]
    # as a database and index written before migration 0005 were: whole vectors only
    first.services.searcher.index.delete(name, sentence_ids)
    with transaction(first.engine) as session:
        session.execute(text("UPDATE alembic_version SET version_num = '0004'"))
    first.close()

    second = open_runtime(tmp_path, ScriptedLLM(), database_url)
    assert second.services.indexer.sweep() == 1
    vector = second.services.embedders.get("fake").embed(["sister Porto"])[0]
    found = {h.id for h in second.services.searcher.index.query(name, vector, 10, None)}
    assert found == {f"p:{passage.id}", *sentence_ids}
    second.close()
