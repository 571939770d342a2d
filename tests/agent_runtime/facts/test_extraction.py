"""Automatic memory: turns queue their messages, the pipeline turns them into facts (offline
rules, a scripted model, the real litellm path), failures are retried then parked, and the facts
come back into the agent's context and its memory_search tool."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from openai_stub import OpenAIStub
from sqlmodel import Session, select

from agent_runtime.core.settings import Settings
from agent_runtime.core.specs import AgentSpec, FactInput, MessageInput, Scope
from agent_runtime.embedding.fake import FakeEmbedder
from agent_runtime.facts import extraction
from agent_runtime.llm import ChatResponse
from agent_runtime.llm.scripted import ScriptedLLM
from agent_runtime.retrieval.vector_index import MemoryIndex
from agent_runtime.runtime import Runtime
from agent_runtime.storage.tables import Extraction, Fact, utcnow


def queued(runtime: Runtime) -> list[Extraction]:
    with Session(runtime.engine) as session:
        return list(session.exec(select(Extraction).order_by(Extraction.created_at)))


def facts_of(runtime: Runtime, agent_id: str, **scope: str) -> list[Fact]:
    return runtime.facts.list_("default", Scope(agent_id=agent_id, **scope))


def drain(runtime: Runtime) -> None:
    while runtime.pipeline.run_once() is not None:
        pass


def test_a_turn_of_an_auto_agent_queues_its_messages_once(
    runtime: Runtime, fake_llm: ScriptedLLM
) -> None:
    auto = runtime.create_agent(AgentSpec(name="auto")).id
    manual = runtime.create_agent(AgentSpec(name="manual", memory="tools")).id
    fake_llm.reply("noted").reply("noted")
    runtime.send(auto, ["I live in Porto"], user_id="ada")
    runtime.send(manual, ["I live in Porto"])
    [row] = queued(runtime)
    assert row.agent_id == auto and row.user_id == "ada" and row.status == "queued"
    assert [(m["role"], m["content"]) for m in row.messages] == [
        ("user", "I live in Porto"),
        ("assistant", "noted"),
    ]
    assert all(m["message_id"] for m in row.messages)


def test_a_moved_city_conversation_leaves_one_current_city(
    runtime: Runtime, fake_llm: ScriptedLLM
) -> None:
    agent = runtime.create_agent(AgentSpec(name="offline-memory")).id  # model: offline rules
    fake_llm.reply("ok").reply("ok").reply("ok")
    runtime.send(agent, ["Hi! My name is Ada and I live in Porto."])
    drain(runtime)
    runtime.send(agent, ["Big news: I just moved to Lisbon."])
    runtime.send(agent, ["I love sushi and jazz."])
    drain(runtime)
    now = {(f.attribute, f.value) for f in facts_of(runtime, agent)}
    assert now == {("name", "Ada"), ("lives_in", "Lisbon"), ("likes", "sushi"), ("likes", "jazz")}
    history = runtime.facts.list_("default", Scope(agent_id=agent), include_history=True)
    porto = next(f for f in history if f.value == "Porto")
    assert porto.retired == "superseded" and porto.invalid_at is not None
    lisbon = next(f for f in history if f.value == "Lisbon")
    assert porto.invalid_at == lisbon.valid_at and porto.superseded_by == lisbon.id
    assert porto.evidence and porto.evidence[0].startswith("message:")
    assert all(r.status == "done" and r.messages == [] for r in queued(runtime))


def test_a_scripted_model_extracts_a_batch_with_one_call(
    runtime: Runtime, fake_llm: ScriptedLLM
) -> None:
    agent = runtime.create_agent(AgentSpec(name="m", model="gpt-test")).id
    runtime.facts.write(
        "default",
        [FactInput(subject="user", attribute="employer", value="Acme")],
        Scope(agent_id=agent),
    )
    for text in ["I work at Globex now", "My sister Mia is visiting", "Nice weather"]:
        fake_llm.reply("ok")
        runtime.send(agent, [text])
    calls_before = len(fake_llm.requests)
    fake_llm.reply(
        record_facts={
            "facts": [
                {
                    "text": "The user works at Globex",
                    "subject": "user",
                    "attribute": "employer",
                    "value": "Globex",
                    "kind": "fact",
                    "cardinality": "single",
                    "message": 0,
                },
                {
                    "text": "The user's sister is Mia",
                    "subject": "user",
                    "attribute": "sister",
                    "value": "Mia",
                    "kind": "relationship",
                    "cardinality": "many",
                    "message": 2,
                },
            ]
        }
    )
    result = runtime.pipeline.run_once()
    assert result is not None and len(fake_llm.requests) == calls_before + 1  # one call, 3 turns
    request = fake_llm.requests[-1]
    assert request.tools[0]["function"]["name"] == "record_facts"
    prompt = request.messages[0]["content"]
    assert "user employer (single) = Acme" in prompt  # known slots, so names are reused
    assert "I work at Globex now" in prompt and "Nice weather" in prompt
    assert {(f.attribute, f.value) for f in facts_of(runtime, agent)} == {
        ("employer", "Globex"),
        ("sister", "Mia"),
    }
    assert [(old.value, by) for old, by in result.superseded][0][0] == "Acme"
    assert all(r.status == "done" and r.model_calls in (0, 1) for r in queued(runtime))
    assert sum(r.model_calls for r in queued(runtime)) == 1


def test_malformed_output_is_repaired_once_then_retried_then_parked(
    runtime: Runtime, fake_llm: ScriptedLLM
) -> None:
    agent = runtime.create_agent(AgentSpec(name="m", model="gpt-test")).id
    fake_llm.reply("ok")
    runtime.send(agent, ["I work at Globex"])
    fake_llm.reply(record_facts="{not json")
    fake_llm.reply(
        record_facts={
            "facts": [
                {
                    "text": "x",
                    "subject": "user",
                    "attribute": "employer",
                    "value": "Globex",
                    "kind": "fact",
                }
            ]
        }
    )
    assert runtime.pipeline.run_once() is not None  # repaired on the second call
    assert "not JSON" in fake_llm.requests[-1].messages[-1]["content"]
    fake_llm.reply("ok")
    runtime.send(agent, ["I live in Oslo"])
    [_, row] = queued(runtime)
    for attempt in range(1, extraction.MAX_ATTEMPTS + 1):
        fake_llm.reply("no tool call here").reply("still none")
        with Session(runtime.engine) as session:  # its backoff has passed
            fresh = session.get(Extraction, row.id)
            assert fresh is not None
            fresh.run_after = utcnow() - timedelta(seconds=1)
            session.add(fresh)
            session.commit()
        assert runtime.pipeline.run_once() is None
        fresh = runtime.extraction.get("default", row.id)
        assert fresh.attempts == attempt and "not JSON" in (fresh.error or "")
    assert fresh.status == "parked"
    assert runtime.get_agent(agent).memory_error is not None
    assert runtime.extraction.status(tenant="default")["parked"] == 1
    shown = runtime.health(tenant="default")["extraction"]
    assert shown["parked"] == 1 and "not JSON" in shown["last_error"]  # type: ignore[index]
    assert runtime.health(tenant="other")["extraction"]["parked"] == 0  # type: ignore[index]
    # a parked batch blocks nothing behind it
    fake_llm.reply("ok")
    runtime.send(agent, ["I like tea"])
    fake_llm.reply(record_facts={"facts": []})
    assert runtime.pipeline.run_once() is not None
    assert runtime.get_agent(agent).memory_error is None
    assert runtime.extraction.retry("default", agent) == 1


def test_two_pipelines_never_take_the_same_batch(runtime: Runtime, fake_llm: ScriptedLLM) -> None:
    agents = [runtime.create_agent(AgentSpec(name=f"a{i}")).id for i in range(6)]
    for agent in agents:
        fake_llm.reply("ok")
        runtime.send(agent, [f"I live in City{agent[-4:]}"])
    claimed: list[list[str]] = [[], []]

    def take(n: int) -> None:
        while (batch := runtime.extraction.claim(8)) is not None:
            claimed[n] += [r.id for r in batch.rows]

    threads = [threading.Thread(target=take, args=(n,)) for n in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert sorted(claimed[0] + claimed[1]) == sorted(r.id for r in queued(runtime))
    assert not set(claimed[0]) & set(claimed[1])


def test_a_batch_whose_lease_was_taken_writes_nothing(
    runtime: Runtime, fake_llm: ScriptedLLM
) -> None:
    agent = runtime.create_agent(AgentSpec(name="a")).id
    fake_llm.reply("ok")
    runtime.send(agent, ["I live in Porto"])
    stalled = runtime.extraction.claim(8)
    assert stalled is not None
    with Session(runtime.engine) as session:  # its process stalled past the lease
        row = session.get(Extraction, stalled.first.id)
        assert row is not None
        row.lease_until = utcnow() - timedelta(seconds=1)
        session.add(row)
        session.commit()
    assert runtime.pipeline.run_once() is not None  # another pipeline does the work
    assert runtime.pipeline.process(stalled) is None  # its late commit is refused
    assert len(facts_of(runtime, agent)) == 1  # written once


def test_facts_come_into_the_next_prompt_and_the_breakdown(
    runtime: Runtime, fake_llm: ScriptedLLM
) -> None:
    agent = runtime.create_agent(AgentSpec(name="a")).id
    fake_llm.reply("ok")
    runtime.send(agent, ["I live in Porto and I am allergic to peanuts."], user_id="ada")
    drain(runtime)
    fake_llm.reply("You are allergic to peanuts.")
    runtime.send(agent, ["Which allergy do I have?"], user_id="ada")
    messages = fake_llm.requests[-1].messages
    section = next(
        m for m in messages if m["role"] == "system" and "remembered_facts" in m["content"]
    )
    assert "user is allergic to peanuts" in section["content"]
    assert messages.index(section) == len(messages) - 2  # just before the newest question
    assert messages[-1]["content"] == "Which allergy do I have?"
    shown = runtime.context(agent, user_id="ada")
    assert shown.facts > 0 and "peanuts" in shown.facts_text
    # another user of the same agent never sees Ada's facts
    fake_llm.reply("I don't know.")
    runtime.send(agent, ["Which allergy do I have?"], user_id="bo")
    assert not any("remembered_facts" in str(m["content"]) for m in fake_llm.requests[-1].messages)


def test_the_agent_searches_its_facts_with_a_tool(runtime: Runtime, fake_llm: ScriptedLLM) -> None:
    agent = runtime.create_agent(AgentSpec(name="a", memory="tools")).id
    scope = Scope(agent_id=agent, user_id="ada")
    runtime.facts.write(
        "default", [FactInput(subject="user", attribute="lives_in", value="Porto")], scope
    )
    runtime.facts.write(
        "default", [FactInput(subject="user", attribute="lives_in", value="Lisbon")], scope
    )
    fake_llm.reply(memory_search={"query": "where does the user live", "include_history": True})
    fake_llm.reply("Lisbon, before that Porto.")
    result = runtime.send(agent, ["Where do I live?"], user_id="ada")
    found = json.loads(result.messages[2].content)["results"]
    assert [(r["fact"], r["status"]) for r in found][:2] == [
        ("user lives in Lisbon", "current"),
        ("user lives in Porto", "superseded"),
    ] or {(r["fact"], r["status"]) for r in found} == {
        ("user lives in Lisbon", "current"),
        ("user lives in Porto", "superseded"),
    }
    fake_llm.reply(memory_search={"query": "where does the user live"})
    fake_llm.reply("?")
    other = runtime.send(agent, ["Where do I live?"], user_id="bo")
    assert json.loads(other.messages[2].content)["results"] == []
    assert not queued(runtime)  # a tools agent queues nothing


def test_ingestion_without_an_agent(runtime: Runtime) -> None:
    messages = [MessageInput("user", "I moved to Oslo in 2024. I love skiing.")]
    later = runtime.ingestion.remember("default", messages, Scope(user_id="kim"))
    assert later.result is None and later.extraction is not None
    assert later.extraction.status == "queued"
    drain(runtime)
    done = runtime.ingestion.get("default", later.extraction.id)
    assert done.status == "done" and len(done.result["added"]) == 2
    waited = runtime.ingestion.remember(
        "default", [MessageInput("user", "I work at Initech.")], Scope(user_id="kim"), wait=True
    )
    assert waited.result is not None and [f.value for f in waited.result.added] == ["Initech"]
    plain = runtime.ingestion.remember(
        "default", [MessageInput("user", "Kim's locker is 42")], Scope(user_id="kim"), infer=False
    )
    assert plain.result is not None and plain.result.added[0].text == "Kim's locker is 42"


@pytest.fixture
def stub() -> Iterator[OpenAIStub]:
    with OpenAIStub() as server:
        yield server


def test_extraction_through_litellm_over_the_wire(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, stub: OpenAIStub
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-not-a-real-key")
    runtime = Runtime(
        Settings(home=tmp_path), embedder_factory=lambda _n: FakeEmbedder(), index=MemoryIndex()
    )
    try:
        agent = runtime.create_agent(
            AgentSpec(name="wire", model="openai/gpt-4o-mini", model_base_url=stub.url)
        ).id
        stub.reply("Nice!")
        runtime.send(agent, ["I adopted a cat called Tom"])
        stub.reply(
            None,
            record_facts={
                "facts": [
                    {
                        "text": "The user has a cat called Tom",
                        "subject": "user",
                        "attribute": "pet",
                        "value": "Tom (cat)",
                        "kind": "relationship",
                        "cardinality": "many",
                        "message": 0,
                    }
                ]
            },
        )
        assert runtime.pipeline.run_once() is not None
        body = stub.requests[-1]["body"]
        assert body["tools"][0]["function"]["name"] == "record_facts"
        assert "I adopted a cat called Tom" in body["messages"][0]["content"]
        assert [f.value for f in facts_of(runtime, agent)] == ["Tom (cat)"]
    finally:
        runtime.close()


def test_extraction_replies_are_never_chat_replies(runtime: Runtime, fake_llm: ScriptedLLM) -> None:
    """The pipeline's model call is its own request: it does not take the agent's turn."""
    agent = runtime.create_agent(AgentSpec(name="a", model="gpt-test")).id
    fake_llm.push(lambda request: ChatResponse(content="hello"))
    runtime.send(agent, ["I live in Porto"])
    assert (
        len(fake_llm.requests) == 1
        and fake_llm.requests[0].tools[0]["function"]["name"] != "record_facts"
    )


def test_a_small_scope_is_shown_whole_without_a_query_embedding(runtime: Runtime) -> None:
    from agent_runtime.facts import context as facts_context

    agent = runtime.create_agent(AgentSpec(name="small"))
    scope = Scope(agent_id=agent.id)
    runtime.facts.write(
        "default",
        [
            FactInput(subject="user", attribute="lives_in", value="Porto"),
            FactInput(subject="user", attribute="allergy", value="peanuts"),
            FactInput(subject="user", attribute="likes", value="jazz"),
        ],
        scope,
    )
    embedded: list[str] = []
    real = runtime.facts.embedder

    def counting():  # type: ignore[no-untyped-def]
        inner = real()

        class Counting:
            name, dimension = inner.name, inner.dimension

            def embed(self, texts: list[str]):  # type: ignore[no-untyped-def]
                embedded.extend(texts)
                return inner.embed(texts)

        return Counting()

    runtime.facts.embedder = counting  # type: ignore[method-assign]
    section = facts_context.build(
        runtime.facts, runtime.services.counter, agent, "any peanuts in this?", None
    )
    assert section is not None and section.count == 3 and embedded == []
    lines = [line for line in section.text.splitlines() if line.startswith("- ")]
    assert lines[0].startswith("- user is allergic to peanuts")
    # past the budget, the facts are ranked by meaning and words, and cut to fit
    tight = facts_context.build(
        runtime.facts, runtime.services.counter, agent, "any peanuts in this?", None, share=0.006
    )
    assert embedded == ["any peanuts in this?"]
    assert tight is not None and tight.count < 3 and "peanuts" in tight.text


def test_an_agent_with_no_facts_asks_nothing_about_them_before_its_turn(
    runtime: Runtime, fake_llm: ScriptedLLM, monkeypatch: pytest.MonkeyPatch
) -> None:
    from agent_runtime.facts import context as facts_context

    built: list[str] = []
    real = facts_context.build

    def spy(*args: object, **kwargs: object) -> object:
        built.append(str(args[3]))
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(facts_context, "build", spy)
    agent = runtime.create_agent(AgentSpec(name="a")).id
    other = runtime.create_agent(AgentSpec(name="b")).id
    fake_llm.reply("ok").reply("ok")
    runtime.send(agent, ["Hello there"])
    assert built == [] and not runtime.get_agent(agent).has_facts
    # A fact in another agent's scope changes nothing for this one.
    runtime.facts.write("default", [FactInput(text="Bo likes tea")], Scope(agent_id=other))
    runtime.send(agent, ["Hello again"])
    assert built == [] and runtime.get_agent(other).has_facts
    runtime.facts.write("default", [FactInput(text="Ada likes tea")], Scope(agent_id=agent))
    assert runtime.get_agent(agent).has_facts
    fake_llm.reply("Tea.")
    runtime.send(agent, ["What do I like to drink?"])
    assert built == ["What do I like to drink?"]
    assert "Ada likes tea" in str(fake_llm.requests[-1].messages)


def test_upgrading_marks_the_agents_that_have_facts(tmp_path: Path) -> None:
    from alembic import command
    from alembic.config import Config
    from sqlalchemy import text

    from agent_runtime.storage.database import MIGRATIONS, make_engine, upgrade

    settings = Settings(home=tmp_path)
    rt = Runtime(settings, llm=ScriptedLLM(), embedder_factory=lambda _n: FakeEmbedder())
    try:
        with_facts = rt.create_agent(AgentSpec(name="knows")).id
        without = rt.create_agent(AgentSpec(name="blank")).id
        rt.facts.write("default", [FactInput(text="Ada likes tea")], Scope(agent_id=with_facts))
    finally:
        rt.close()
    engine = make_engine(settings.sqlalchemy_url)
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as conn:  # back to before the column, facts and all still there
        config.attributes["connection"] = conn
        command.downgrade(config, "0016")
    upgrade(engine)
    with engine.begin() as conn:
        marked = dict(conn.execute(text("SELECT id, has_facts FROM agent")).all())
    engine.dispose()
    assert marked == {with_facts: True, without: False}
