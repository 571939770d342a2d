from __future__ import annotations

from pathlib import Path

from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import text

from agent_runtime.core.settings import Settings
from agent_runtime.core.specs import AgentSpec, BlockSpec
from agent_runtime.embedding.fake import FakeEmbedder
from agent_runtime.llm.scripted import ScriptedLLM
from agent_runtime.retrieval.vector_index import Space
from agent_runtime.runtime import Runtime
from agent_runtime.storage.database import MIGRATIONS, transaction, upgrade
from agent_runtime.storage.tables import Passage


def head() -> str:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return str(ScriptDirectory.from_config(config).get_current_head())


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
    name = Space.of(first.services.embedders.get("fake"), agent_id, "passage")
    sentence_ids = [f"p:{passage.id}:1", f"p:{passage.id}:2"]
    # as a database and index written before migration 0005 were: whole vectors only
    first.services.searcher.index.delete(name, sentence_ids)
    engine = first.engine
    first.close()
    with transaction(engine) as session:
        session.execute(text("UPDATE alembic_version SET version_num = '0004'"))
    upgrade(engine, "0005")  # that migration alone: the later ones are applied already
    with transaction(engine) as session:
        session.execute(text("UPDATE alembic_version SET version_num = :head"), {"head": head()})

    second = open_runtime(tmp_path, ScriptedLLM(), database_url)
    assert second.services.indexer.sweep() == 1
    vector = second.services.embedders.get("fake").embed(["sister Porto"])[0]
    found = {h.id for h in second.services.searcher.index.query(name, vector, 10, None)}
    assert found == {f"p:{passage.id}", *sentence_ids}
    second.close()


OLD_AGENT = (
    "INSERT INTO agent (id, tenant_id, name, model, context_window, embedding, instructions, "
    "max_steps, created_at, updated_at, system_prompt, system_prompt_tokens, message_count, "
    "passage_count) VALUES (:id, 'default', :name, 'm', 8000, 'fake', '', 5, CURRENT_TIMESTAMP, "
    "CURRENT_TIMESTAMP, '', 0, 0, 0)"
)


def test_upgrading_renames_duplicate_agent_names(tmp_path: Path, database_url: str | None) -> None:
    from agent_runtime.storage.database import make_engine

    settings = Settings(home=tmp_path, database_url=database_url)
    settings.home.mkdir(parents=True, exist_ok=True)
    engine = make_engine(settings.sqlalchemy_url)
    upgrade(engine, "0006")  # names were not unique then
    with engine.begin() as conn:
        for agent_id, name in [("a1", "helper"), ("a2", "helper"), ("a3", "helper-2"), ("a4", "x")]:
            conn.execute(text(OLD_AGENT), {"id": agent_id, "name": name})
    upgrade(engine)
    with engine.begin() as conn:
        names = dict(conn.execute(text("SELECT id, name FROM agent")).all())
    assert len(set(names.values())) == 4 and names["a4"] == "x"
    assert sorted(names.values()) == ["helper", "helper-2", "helper-3", "x"]
    engine.dispose()


def test_upgrading_gives_existing_messages_the_spoken_message_before_them(
    tmp_path: Path, database_url: str | None
) -> None:
    from sqlmodel import Session

    from agent_runtime.retrieval import keyword
    from agent_runtime.retrieval.corpus import MESSAGES
    from agent_runtime.storage.database import make_engine

    settings = Settings(home=tmp_path, database_url=database_url)
    settings.home.mkdir(parents=True, exist_ok=True)
    engine = make_engine(settings.sqlalchemy_url)
    upgrade(engine, "0005")  # a database written before messages had context
    with engine.begin() as conn:  # raw SQL: the table models describe the newest schema
        conn.execute(text(OLD_AGENT), {"id": "a1", "name": "old"})
    history = [
        ("user", "where should we moor the catamaran tonight?"),
        ("assistant", ""),  # a tool call
        ("tool", "nothing found"),
        ("assistant", "pier seven, next to the fish market"),
        ("user", "thanks"),
    ]
    with engine.begin() as conn:
        for role, content in history:
            conn.execute(
                text(
                    "INSERT INTO message (agent_id, turn_id, step, role, content, created_at, "
                    "in_context, tokens, indexed) VALUES ('a1', 't', 0, :role, :content, "
                    "CURRENT_TIMESTAMP, false, 0, false)"
                ),
                {"role": role, "content": content},
            )
    upgrade(engine)
    with Session(engine) as session:
        contexts = [
            row[0] for row in session.execute(text("SELECT context FROM message ORDER BY id"))
        ]
        assert contexts == ["", "", "", history[0][1], history[3][1]]
        if engine.dialect.name == "postgresql":
            session.execute(text("ANALYZE message"))
        found = keyword.rank(session, MESSAGES, "a1", "catamaran mooring", limit=5)
        texts = [
            session.execute(text("SELECT content FROM message WHERE id = :i"), {"i": i}).scalar()
            for i in found
        ]
    assert texts == [history[0][1], history[3][1]]  # the reply, through what it answers
    engine.dispose()


def test_rows_written_after_every_migration_are_found_by_their_words(
    tmp_path: Path, database_url: str | None
) -> None:
    """A migration that rebuilds a table (SQLite batch mode) drops the triggers that keep its
    keyword index; rows written afterwards would then never be found."""
    from sqlmodel import Session

    from agent_runtime.retrieval import keyword
    from agent_runtime.retrieval.corpus import MESSAGES
    from agent_runtime.storage.database import make_engine

    settings = Settings(home=tmp_path, database_url=database_url)
    settings.home.mkdir(parents=True, exist_ok=True)
    engine = make_engine(settings.sqlalchemy_url)
    upgrade(engine)
    with engine.begin() as conn:
        conn.execute(text(OLD_AGENT), {"id": "a1", "name": "new"})
        conn.execute(
            text(
                "INSERT INTO message (agent_id, turn_id, step, role, content, created_at, "
                "in_context, tokens, indexed, context) VALUES ('a1', 't', 0, 'user', "
                "'the catamaran is moored at pier seven', CURRENT_TIMESTAMP, false, 0, false, '')"
            )
        )
    with Session(engine) as session:
        if engine.dialect.name == "postgresql":
            session.execute(text("ANALYZE message"))
        assert keyword.rank(session, MESSAGES, "a1", "catamaran", limit=5)
    engine.dispose()
