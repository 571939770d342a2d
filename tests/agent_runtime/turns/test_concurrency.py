from __future__ import annotations

import threading
import time

import pytest
from sqlmodel import Session, select

from agent_runtime.core.errors import AgentBusy
from agent_runtime.core.specs import AgentSpec
from agent_runtime.llm import ChatRequest, ChatResponse
from agent_runtime.llm.scripted import ScriptedLLM
from agent_runtime.runtime import Runtime
from agent_runtime.storage.tables import Message, Passage


class SlowModel:
    """Answers after a pause and notes how many calls overlap."""

    def __init__(self, pause: float) -> None:
        self.pause = pause
        self.active = 0
        self.most = 0
        self.lock = threading.Lock()

    def complete(self, request: ChatRequest) -> ChatResponse:
        with self.lock:
            self.active += 1
            self.most = max(self.most, self.active)
        time.sleep(self.pause)
        with self.lock:
            self.active -= 1
        return ChatResponse(content="reply to " + request.messages[-1]["content"])


def test_concurrent_turns_on_one_agent_take_turns(runtime: Runtime) -> None:
    model = SlowModel(0.05)
    runtime.services.llm_for = lambda _m: model
    agent_id = runtime.create_agent(AgentSpec(name="c")).id
    errors: list[Exception] = []

    def talk(i: int) -> None:
        try:
            runtime.send(agent_id, [f"m{i}"])
        except Exception as exc:  # collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=talk, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert errors == []
    assert model.most == 1
    history = runtime.messages(agent_id)
    # never interleaved: each user message is followed directly by its own reply
    pairs = list(zip(history[::2], history[1::2], strict=True))
    assert len(pairs) == 4
    for user, reply in pairs:
        assert user.role == "user" and reply.content == "reply to " + user.content
        assert user.turn_id == reply.turn_id


def test_a_busy_agent_gives_a_clear_conflict_after_a_bounded_wait(runtime: Runtime) -> None:
    model = SlowModel(1.0)
    runtime.services.llm_for = lambda _m: model
    runtime.settings = runtime.settings.with_(busy_wait_seconds=0.1)
    agent_id = runtime.create_agent(AgentSpec(name="c")).id
    first = threading.Thread(target=runtime.send, args=(agent_id, ["slow"]))
    first.start()
    time.sleep(0.3)
    with pytest.raises(AgentBusy, match="busy"):
        runtime.send(agent_id, ["impatient"])
    first.join(timeout=10)
    assert [m.content for m in runtime.messages(agent_id)] == ["slow", "reply to slow"]


def test_different_agents_run_side_by_side(runtime: Runtime) -> None:
    model = SlowModel(0.2)
    runtime.services.llm_for = lambda _m: model
    ids = [runtime.create_agent(AgentSpec(name=f"c{i}")).id for i in range(2)]
    threads = [threading.Thread(target=runtime.send, args=(i, ["hi"])) for i in ids]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=10)
    assert model.most == 2


def test_a_lapsed_lease_from_a_dead_process_is_taken_over(
    runtime: Runtime, fake_llm: ScriptedLLM
) -> None:
    from datetime import timedelta

    from agent_runtime.storage.database import transaction
    from agent_runtime.storage.tables import Agent, utcnow

    agent_id = runtime.create_agent(AgentSpec(name="c")).id
    with transaction(runtime.engine) as session:
        agent = session.get(Agent, agent_id)
        assert agent is not None
        agent.lease_owner = "dead-process"
        agent.lease_until = utcnow() - timedelta(seconds=1)
    fake_llm.reply("alive")
    assert runtime.send(agent_id, ["hello"]).messages[-1].content == "alive"


def test_the_indexer_passes_by_rows_a_step_holds(
    runtime: Runtime, backend: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A step's search marks pending rows indexed in the step's transaction, and the step locks
    the agent's row later, when it adds its messages. The indexer locks the agent's row, then
    marks rows: were it to wait for the step's rows, the step's wait for the agent's row would
    close the circle and PostgreSQL would kill one of them (seen in CI)."""
    if backend != "postgres":
        pytest.skip("SQLite has one writer: its transactions never lock rows")
    llm = ScriptedLLM()
    runtime.services.llm_for = lambda _m: llm
    agent_id = runtime.create_agent(AgentSpec(name="order")).id
    indexer = runtime.services.indexer
    monkeypatch.setattr(indexer, "schedule", lambda _agent_id: None)  # rows stay pending
    searcher = runtime.services.searcher
    search_catch_up = searcher.catch_up
    background: list[BaseException] = []
    raced: list[bool] = []

    def index() -> None:
        try:
            indexer.index_agent(agent_id)
        except BaseException as exc:  # asserted below
            background.append(exc)

    def catch_up_then_race(session: Session, agent: str) -> list[Passage | Message]:
        unsaved = search_catch_up(session, agent)  # the pending rows are marked, and locked
        racer = threading.Thread(target=index)
        racer.start()
        racer.join(timeout=5)
        raced.append(not racer.is_alive())  # done while the step still holds its rows
        racer.join(timeout=30)
        return unsaved

    monkeypatch.setattr(searcher, "catch_up", catch_up_then_race)
    llm.reply(conversation_search={"query": "hello"})
    llm.reply("found it")
    runtime.send(agent_id, ["hello there"])
    monkeypatch.setattr(searcher, "catch_up", search_catch_up)
    assert raced == [True], "the indexer waited for the step's rows"
    assert background == []
    roles = [m.role for m in runtime.messages(agent_id)]
    assert roles == ["user", "assistant", "tool", "assistant"]
    with Session(runtime.engine) as session:  # the step marked what the indexer passed by
        user = session.exec(select(Message).where(Message.role == "user")).one()
        assert user.indexed
