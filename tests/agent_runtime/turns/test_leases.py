"""Leases: one turn at a time per agent; a dead process's lease is taken over at once; a turn
that lost its lease commits nothing."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
from datetime import timedelta

import pytest
from sqlalchemy import event
from sqlmodel import Session, col, select

from agent_runtime.core.errors import AgentBusy, LeaseLost
from agent_runtime.core.specs import AgentSpec
from agent_runtime.llm import ChatRequest, ChatResponse
from agent_runtime.runtime import Runtime
from agent_runtime.storage.database import transaction
from agent_runtime.storage.tables import Agent, Process, utcnow
from agent_runtime.turns.leases import Lease


def hold(runtime: Runtime, agent_id: str, process_id: str, seconds: float = 300) -> None:
    with transaction(runtime.engine) as session:
        agent = session.get(Agent, agent_id)
        assert agent is not None
        agent.lease_owner = "another-turn"
        agent.lease_until = utcnow() + timedelta(seconds=seconds)
        agent.lease_process = process_id


def add_process(runtime: Runtime, pid: int, beat_ago: float = 0.0, host: str = "") -> str:
    row = Process(
        id=f"proc-test-{pid}-{beat_ago}",
        host=host or socket.gethostname(),
        pid=pid,
        heartbeat_at=utcnow() - timedelta(seconds=beat_ago),
    )
    with transaction(runtime.engine) as session:
        session.add(row)
    return row.id


def dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_a_lease_of_a_process_that_is_gone_is_taken_at_once(runtime: Runtime, fake_llm) -> None:
    agent_id = runtime.create_agent(AgentSpec(name="a")).id
    hold(runtime, agent_id, "proc-that-closed")  # 300 s left on the clock
    fake_llm.reply("served")
    assert runtime.send(agent_id, ["hi"]).messages[-1].content == "served"


def test_a_live_process_keeps_its_lease_until_its_heartbeat_stops(
    runtime: Runtime, fake_llm
) -> None:
    runtime.settings = runtime.settings.with_(busy_wait_seconds=0.2)
    agent_id = runtime.create_agent(AgentSpec(name="a")).id
    other_host = add_process(runtime, pid=1, host="another-host")
    hold(runtime, agent_id, other_host)
    with pytest.raises(AgentBusy):
        runtime.send(agent_id, ["hi"])
    with transaction(runtime.engine) as session:
        row = session.get(Process, other_host)
        assert row is not None
        row.heartbeat_at = utcnow() - timedelta(seconds=runtime.processes.stale_seconds + 1)
    fake_llm.reply("served")
    assert runtime.send(agent_id, ["hi"]).messages[-1].content == "served"


def test_dead_processes_of_this_host_are_reaped(runtime: Runtime) -> None:
    dead = add_process(runtime, pid=dead_pid())
    ours_before = Process(
        id="proc-our-pid-earlier-run",
        host=socket.gethostname(),
        pid=os.getpid(),
        started_at=utcnow() - timedelta(days=3650),
    )
    with transaction(runtime.engine) as session:
        session.add(ours_before)
    elsewhere = add_process(runtime, pid=dead_pid(), host="another-host")
    runtime.processes.reap()
    with Session(runtime.engine) as session:
        assert session.get(Process, dead) is None
        assert session.get(Process, "proc-our-pid-earlier-run") is None  # pid reused by us
        assert session.get(Process, runtime.processes.id) is not None
        assert session.get(Process, elsewhere) is not None  # another host: its heartbeat decides


def test_a_turn_that_lost_its_lease_commits_nothing(runtime: Runtime) -> None:
    agent_id = runtime.create_agent(AgentSpec(name="a")).id

    class Thief:
        def complete(self, request: ChatRequest) -> ChatResponse:
            hold(runtime, agent_id, runtime.processes.id)  # another turn takes over meanwhile
            return ChatResponse(content="too late")

    runtime.services.llm_for = lambda _m: Thief()
    with pytest.raises(LeaseLost):
        runtime.send(agent_id, ["hi"])
    assert [m.content for m in runtime.messages(agent_id)] == ["hi"]
    with Session(runtime.engine) as session:
        agent = session.get(Agent, agent_id)
        assert agent is not None and agent.lease_owner == "another-turn"  # not released by us


def test_a_lease_is_renewed_while_a_slow_model_runs(runtime: Runtime) -> None:
    """RECALLD_LEASE_SECONDS=1 and a 1.5 s model: turns used to interleave when the lease ran
    out mid-call."""
    runtime.settings = runtime.settings.with_(lease_seconds=1.0, busy_wait_seconds=30.0)
    agent_id = runtime.create_agent(AgentSpec(name="a")).id

    class Slow:
        def complete(self, request: ChatRequest) -> ChatResponse:
            time.sleep(1.5)
            return ChatResponse(content="reply to " + request.messages[-1]["content"])

    runtime.services.llm_for = lambda _m: Slow()
    errors: list[Exception] = []

    def talk(i: int) -> None:
        try:
            runtime.send(agent_id, [f"m{i}"])
        except Exception as exc:  # asserted below
            errors.append(exc)

    threads = [threading.Thread(target=talk, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert errors == []
    history = runtime.messages(agent_id)
    assert len(history) == 8
    for user, reply in zip(history[::2], history[1::2], strict=True):
        assert reply.content == "reply to " + user.content and user.turn_id == reply.turn_id


CHILD = textwrap.dedent(
    """
    import sys, threading
    from pathlib import Path
    from agent_runtime.embedding.fake import FakeEmbedder
    from agent_runtime.llm.scripted import ScriptedLLM
    from agent_runtime.runtime import Runtime
    from agent_runtime.core.settings import Settings

    home, url, agent_id = sys.argv[1], sys.argv[2] or None, sys.argv[3]
    hang = threading.Event()
    def stuck(_request):
        print("calling the model", flush=True)
        hang.wait()
    rt = Runtime(
        Settings(home=Path(home), database_url=url),
        llm=ScriptedLLM(fallback=stuck),
        embedder_factory=lambda _n: FakeEmbedder(),
        background_indexing=False,
    )
    rt.send(agent_id, ["this turn dies"])
    """
)


def test_a_turn_killed_mid_call_frees_its_agent_at_once(runtime: Runtime, fake_llm) -> None:
    settings = runtime.settings
    agent_id = runtime.create_agent(AgentSpec(name="a", embedding="fake")).id
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(settings.home), settings.database_url or "", agent_id],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "LITELLM_LOCAL_MODEL_COST_MAP": "True"},
    )
    try:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "calling the model"
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(10)
    with Session(runtime.engine) as session:
        agent = session.get(Agent, agent_id)
        assert agent is not None and agent.lease_until is not None  # still held on paper
    fake_llm.reply("back")
    result = runtime.send(agent_id, ["are you there?"])  # busy_wait is 2 s; the lease had 300
    assert result.messages[-1].content == "back"
    assert [m.content for m in runtime.messages(agent_id)][0] == "this turn dies"


def test_a_turn_ending_without_tools_frees_its_lease_in_its_last_commit(
    runtime: Runtime, fake_llm
) -> None:
    """Three write transactions for a plain turn: the lease, the input, and the step that also
    frees the lease. The agent is free and records why the turn ended."""
    agent = runtime.create_agent(AgentSpec(name="a"))
    fake_llm.reply("one").reply("two").reply("three")
    runtime.send(agent.id, ["warm up"])
    writes: list[str] = []
    turn = threading.get_ident()  # not the background indexer's

    def seen(_conn, _cursor, statement: str, *_args) -> None:  # type: ignore[no-untyped-def]
        if threading.get_ident() == turn and statement.upper().startswith("BEGIN IMMEDIATE"):
            writes.append(statement)

    event.listen(runtime.engine, "before_cursor_execute", seen)
    try:
        result = runtime.send(agent.id, ["hello"])
    finally:
        event.remove(runtime.engine, "before_cursor_execute", seen)
    if runtime.engine.dialect.name == "sqlite":
        assert len(writes) == 3, writes
    with Session(runtime.engine) as session:
        row = session.get(Agent, agent.id)
        assert row is not None
        assert row.lease_owner is None and row.lease_until is None
        assert row.last_stop_reason == result.stop_reason == "end_turn"
    assert runtime.send(agent.id, ["and again"]).stop_reason == "end_turn"  # free at once


def test_the_keeper_does_not_wait_on_an_agent_row_a_step_holds(
    runtime: Runtime, backend: str
) -> None:
    """A step that has written its agent's row holds it until it commits, tools that run after
    that included; the keeper's renewal of that lease passes it by (the step's commit fences the
    lease) instead of holding up every other lease of the process."""
    if backend != "postgres":
        pytest.skip("SQLite takes no row locks")
    agent_id = runtime.create_agent(AgentSpec(name="held")).id
    lease = Lease(runtime.engine, agent_id, 60, runtime.processes, runtime.lease_keeper)
    lease.take(1.0)
    outcome: list[bool] = []
    with Session(runtime.engine) as step:
        step.exec(
            select(Agent).where(col(Agent.id) == agent_id).with_for_update(key_share=True)
        ).one()
        renewal = threading.Thread(target=lambda: outcome.append(lease.renew()))
        renewal.start()
        renewal.join(timeout=5)
        assert outcome == [True], "the renewal waited for the step's lock"
        step.rollback()
    other = Lease(runtime.engine, agent_id, 60, runtime.processes, runtime.lease_keeper)
    assert not other.try_take()  # still the first turn's
    assert lease.renew()
    lease.release()
    assert not lease.renew()  # released: no longer this turn's
