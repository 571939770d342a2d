"""Export and import: a round trip (SQLite to PostgreSQL and back) gives the same document; Letta
agent files and Mem0 exports come in; a bad file leaves nothing behind."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError
from sqlmodel import Session, func, select

import tests.conftest as root
from agent_runtime.agent_file import AgentDocument, LettaAgentFile, Mem0Export
from agent_runtime.core.errors import InvalidInput
from agent_runtime.core.settings import Settings
from agent_runtime.core.specs import (
    AgentSpec,
    BlockSpec,
    FactInput,
    Fallback,
    MessageInput,
    PassageInput,
    Scope,
)
from agent_runtime.embedding.fake import FakeEmbedder
from agent_runtime.llm.scripted import ScriptedLLM, echo_summary
from agent_runtime.retrieval.vector_index import MemoryIndex
from agent_runtime.runtime import Runtime
from agent_runtime.storage.tables import Agent, Message


def exported(runtime: Runtime, agent_id: str) -> dict[str, Any]:
    text = "".join(runtime.export_agent(agent_id))
    return json.loads(text)  # type: ignore[no-any-return]


def comparable(document: dict[str, Any]) -> dict[str, Any]:
    """A document without what an import may change: when it was exported."""
    return {k: v for k, v in document.items() if k != "exported_at"}


@pytest.fixture
def other(tmp_path: Path, backend: str) -> Iterator[Runtime]:
    """A second server on the other database (PostgreSQL when the first is SQLite and it is
    available), to import into."""
    url = None
    name = None
    if backend == "sqlite" and root.PG_URL:
        name, url = root._fresh_pg_database()
    rt = Runtime(
        Settings(home=tmp_path / "other", database_url=url),
        llm=ScriptedLLM(fallback=echo_summary),
        embedder_factory=lambda _n: FakeEmbedder(),
        index=MemoryIndex(),
    )
    yield rt
    rt.close()
    if name:
        root._drop_pg_database(name)


def a_lived_in_agent(runtime: Runtime) -> str:
    runtime.services.llm_for = lambda _m: ScriptedLLM(fallback=echo_summary)
    shared = runtime.create_block(BlockSpec("team", "Ship v1", 200, "the team's goal"))
    agent = runtime.create_agent(
        AgentSpec(
            name="lived-in",
            context_window=2000,
            blocks=[BlockSpec("human", "Ada", 300, read_only=True)],
            block_ids=[shared.id],
            memory_ttl={"event": 30},
            fallback_models=[Fallback("spare"), Fallback("openai/m", "http://127.0.0.1:9/v1")],
            retry_seconds=5,
        )
    ).id
    runtime.create_agent(AgentSpec(name="teammate", block_ids=[shared.id]))
    for i in range(30):  # enough to page: a summary and paged-out passages
        runtime.send(agent, [f"fact number {i}: the locker code is {1000 + i}"])
    runtime.insert_passages(
        agent,
        [
            PassageInput(
                "a tagged note", tags=["work"], created_at=datetime(2024, 5, 1, tzinfo=UTC)
            ),
            PassageInput("a fleeting note", expires_at=datetime(2030, 1, 1, tzinfo=UTC)),
        ],
    )
    scope = Scope(agent_id=agent, user_id="ada")
    moves = [
        FactInput(
            subject="Ada", attribute="lives_in", value=city, valid_at=datetime(y, 1, 1, tzinfo=UTC)
        )
        for city, y in (("Porto", 2020), ("Lisbon", 2023))
    ]
    runtime.facts.write("default", moves, scope)
    runtime.facts.write("default", [FactInput(text="Ada ran a marathon", kind="event")], scope)
    runtime.jobs.submit(agent, "write the digest", tenant="default", schedule="1d")
    return agent


def test_a_round_trip_gives_the_same_document(runtime: Runtime, other: Runtime) -> None:
    agent = a_lived_in_agent(runtime)
    first = exported(runtime, agent)
    assert first["format"] == "recalld.agent" and first["summary"] is not None
    assert len(first["messages"]) == 60 and any(m["in_context"] for m in first["messages"])
    assert any(
        p["origin"] == "paged" and p["source_message"] is not None for p in first["passages"]
    )
    assert {b["label"]: b["shared"] for b in first["blocks"]}["team"] is True
    assert [len(f["history"]) for f in first["facts"]] == [2, 1, 1]
    assert first["jobs"][0]["schedule"] == "1d"
    assert first["agent"]["fallback_models"][1] == {
        "model": "openai/m",
        "base_url": "http://127.0.0.1:9/v1",
    }
    assert first["agent"]["retry_seconds"] == 5
    text = json.dumps(first)
    assert "agent-" not in text and "block-" not in text  # no ids travel

    done = other.importer.agent("default", AgentDocument.model_validate(first))
    assert done.counts["messages"] == 60 and done.skipped == [
        "shared block 'team' is this agent's own now"
    ]
    again = exported(other, done.agent.id)  # type: ignore[union-attr]
    first["blocks"] = [{**b, "shared": False} for b in first["blocks"]]
    assert comparable(again) == comparable(first)
    # the imported agent works: its facts and passages are found
    hits = other.facts.search("default", "where does Ada live", Scope(agent_id=done.agent.id))  # type: ignore[union-attr]
    assert hits[0].fact.value == "Lisbon"
    found, _ = other.search_archival(done.agent.id, "locker code 1003")  # type: ignore[union-attr]
    assert any("1003" in h.text for h in found)


def test_a_bad_document_imports_nothing(runtime: Runtime, other: Runtime) -> None:
    agent = a_lived_in_agent(runtime)
    document = exported(runtime, agent)
    document["messages"][5]["role"] = "narrator"
    with pytest.raises(ValidationError) as bad:
        AgentDocument.model_validate(document)
    assert bad.value.errors()[0]["loc"][:3] == ("messages", 5, "role")
    document["messages"][5]["role"] = "user"
    document["passages"][0]["source_message"] = 10_000
    with pytest.raises(InvalidInput, match="passages\\[0\\].source_message"):
        other.importer.agent("default", AgentDocument.model_validate(document))
    with Session(other.engine) as session:
        assert session.exec(select(func.count()).select_from(Agent)).one() == 0
        assert session.exec(select(func.count()).select_from(Message)).one() == 0


def test_a_letta_agent_file_comes_in(runtime: Runtime) -> None:
    # Fields as letta-ai/agent-file's schema names them: llm_config, core_memory (label, value,
    # limit), messages with content parts and tool_calls, in_context_message_indices, tools.
    letta = {
        "name": "Letta Sam",
        "system": "You are Sam, a helpful companion.",
        "llm_config": {
            "model": "gpt-4o-mini",
            "model_endpoint_type": "openai",
            "context_window": 32000,
        },
        "core_memory": [
            {"label": "persona", "value": "I am Sam.", "limit": 5000},
            {"label": "human", "value": "Name: Chad", "limit": 5000},
        ],
        "messages": [
            {"role": "system", "content": [{"type": "text", "text": "(rendered prompt)"}]},
            {
                "role": "user",
                "content": [{"type": "text", "text": "hi, I'm Chad"}],
                "created_at": "2025-01-02T10:00:00Z",
            },
            {
                "role": "assistant",
                "content": [{"type": "text", "text": "(inner thoughts)"}],
                "tool_calls": [
                    {
                        "id": "c1",
                        "type": "function",
                        "function": {
                            "name": "send_message",
                            "arguments": '{"message": "Hello Chad!"}',
                        },
                    }
                ],
                "created_at": "2025-01-02T10:00:01Z",
            },
            {
                "role": "tool",
                "content": "None",
                "tool_call_id": "c1",
                "name": "send_message",
                "created_at": "2025-01-02T10:00:02Z",
            },
        ],
        "in_context_message_indices": [0, 1, 2, 3],
        "tools": [
            {"name": "send_message"},
            {"name": "web_search", "source_code": "def web_search(): ..."},
        ],
        "tool_rules": [{"tool_name": "send_message", "type": "TerminalToolRule"}],
        "created_at": "2025-01-01T00:00:00Z",
    }
    done = runtime.importer.letta("default", LettaAgentFile.model_validate(letta))
    assert done.agent is not None and done.agent.name == "Letta Sam"
    assert done.agent.context_window == 32000
    assert any("web_search" in s for s in done.skipped) and any(
        "tool rules" in s for s in done.skipped
    )
    assert runtime.block(done.agent.id, "human").value == "Name: Chad"
    history = runtime.messages(done.agent.id)
    assert [(m.role, m.content, m.in_context) for m in history] == [
        ("user", "hi, I'm Chad", True),
        ("assistant", "Hello Chad!", True),
    ]


def test_a_mem0_export_becomes_facts(runtime: Runtime) -> None:
    # Mem0's get_all/export shape: id, memory, user_id, agent_id, metadata, created_at.
    mem0 = {
        "results": [
            {
                "id": "m-1",
                "memory": "Likes sushi",
                "user_id": "alex",
                "agent_id": "travel-bot",
                "metadata": {"category": "food"},
                "created_at": "2024-07-01T12:00:00Z",
            },
            {
                "id": "m-2",
                "memory": "Allergic to peanuts",
                "user_id": "alex",
                "created_at": "2024-07-02T12:00:00Z",
                "updated_at": "2024-07-03T12:00:00Z",
            },
            {"id": "m-3", "memory": "Lives in Berlin", "user_id": "sam"},
        ]
    }
    counts = runtime.importer.mem0("default", Mem0Export.model_validate(mem0))
    assert counts == {"memories": 3, "facts": 3}
    alex = runtime.facts.list_("default", Scope(user_id="alex"))
    assert sorted(f.text for f in alex) == ["Allergic to peanuts", "Likes sushi"]
    sushi = next(f for f in alex if f.text == "Likes sushi")
    assert sushi.meta == {"category": "food", "mem0_id": "m-1", "mem0_agent_id": "travel-bot"}
    assert sushi.valid_at.replace(tzinfo=UTC) == datetime(2024, 7, 1, 12, tzinfo=UTC)
    assert (
        runtime.facts.search("default", "peanuts", Scope(user_id="alex"))[0].fact.text
        == "Allergic to peanuts"
    )


def test_ten_thousand_messages_round_trip(runtime: Runtime, other: Runtime, backend: str) -> None:
    if backend != "sqlite":
        pytest.skip("once is enough: the round trip above runs on both")
    agent = runtime.create_agent(AgentSpec(name="long")).id
    runtime.import_messages(
        agent,
        [MessageInput("user" if i % 2 else "assistant", f"message {i}") for i in range(10_000)],
    )
    document = exported(runtime, agent)
    assert len(document["messages"]) == 10_000
    done = other.importer.agent("default", AgentDocument.model_validate(document))
    assert done.agent is not None and done.agent.message_count == 10_000
    assert comparable(exported(other, done.agent.id)) == comparable(document)


def test_imported_blocks_say_they_were_imported(runtime: Runtime, other: Runtime) -> None:
    agent = runtime.create_agent(AgentSpec(name="v", blocks=[BlockSpec("human", "Ada")])).id
    done = other.importer.agent("default", AgentDocument.model_validate(exported(runtime, agent)))
    assert done.agent is not None
    _, versions = other.history.versions("default", "human", agent_id=done.agent.id)
    assert [(v.version, v.actor, v.value) for v in versions] == [(1, "import", "Ada")]
