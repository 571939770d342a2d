from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest
from sqlmodel import Session, col, select

from agent_runtime.core.errors import ProviderBadRequest
from agent_runtime.core.specs import AgentSpec
from agent_runtime.jobs.worker import Worker
from agent_runtime.llm import ChatRequest, ChatResponse
from agent_runtime.llm.scripted import ScriptedLLM, echo_summary
from agent_runtime.runtime import Runtime
from agent_runtime.storage.tables import Job, Passage, Summary


@pytest.fixture
def fast(runtime: Runtime) -> Runtime:
    runtime.settings = runtime.settings.with_(job_lease_seconds=2.0, worker_poll_seconds=0.02)
    return runtime


@pytest.fixture
def agent_id(fast: Runtime) -> str:
    return fast.create_agent(AgentSpec(name="worker-bee")).id


def kinds(runtime: Runtime, job_id: str) -> list[str]:
    return [e.kind for e in runtime.jobs.events(job_id, tenant="default")]


def test_a_scripted_multi_step_job_completes(
    fast: Runtime, fake_llm: ScriptedLLM, agent_id: str
) -> None:
    job = fast.jobs.submit(
        agent_id, "Collect three facts about octopuses", tenant="default", max_steps=10
    )
    fake_llm.reply(archival_memory_insert={"content": "Octopuses have three hearts"})
    fake_llm.reply(report_progress={"note": "one fact stored"})
    fake_llm.reply("Thinking about the next fact.")  # an answer without a tool call
    fake_llm.reply(complete_job={"result": "Octopuses have three hearts."})
    assert Worker(fast).run_once()
    done = fast.jobs.get(job.id, tenant="default")
    assert done.status == "succeeded" and done.stop_reason == "completed"
    assert done.steps == 4 and done.result == "Octopuses have three hearts."
    assert done.progress_note == "Thinking about the next fact."
    first, *_, fourth = fake_llm.requests
    assert "Collect three facts about octopuses" in first.messages[-1]["content"]
    assert {t["function"]["name"] for t in first.tools} >= {"report_progress", "complete_job"}
    # the plain answer was followed by a prompt to continue
    assert "Keep working on the goal" in fourth.messages[-1]["content"]
    assert kinds(fast, job.id) == [
        "status",
        "status",
        "step",
        "progress",
        "step",
        "step",
        "progress",
        "step",
        "status",
    ]
    assert fast.passages(agent_id)[0].text == "Octopuses have three hearts"


def test_a_job_that_hits_max_steps_ends_as_such(
    fast: Runtime, fake_llm: ScriptedLLM, agent_id: str
) -> None:
    job = fast.jobs.submit(agent_id, "never finish", tenant="default", max_steps=3)
    for _ in range(5):
        fake_llm.reply(report_progress={"note": "still going"})
    Worker(fast).run_once()
    done = fast.jobs.get(job.id, tenant="default")
    assert (done.status, done.stop_reason, done.steps) == ("failed", "max_steps", 3)
    assert "3 steps" in (done.error or "")
    assert fake_llm.pending == 2


def test_cancel_stops_a_running_job_within_one_step(fast: Runtime, agent_id: str) -> None:
    started = threading.Event()

    def slow(_request: ChatRequest) -> ChatResponse:
        started.set()
        time.sleep(0.05)
        return ChatResponse(tool_calls=[ScriptedLLM().call("report_progress", {"note": "x"})])

    fast.services.llm_for = lambda _m: ScriptedLLM(fallback=slow)
    job = fast.jobs.submit(agent_id, "spin", tenant="default", max_steps=1000)
    worker = Worker(fast)
    thread = threading.Thread(target=worker.run_once)
    thread.start()
    assert started.wait(10)
    fast.jobs.cancel(job.id, tenant="default")
    at_cancel = fast.jobs.get(job.id, tenant="default").steps
    thread.join(10)
    done = fast.jobs.get(job.id, tenant="default")
    assert done.status == "cancelled"
    assert done.steps <= at_cancel + 1
    queued = fast.jobs.submit(agent_id, "later", tenant="default")
    assert fast.jobs.cancel(queued.id, tenant="default").status == "cancelled"


def test_two_workers_never_run_one_job(fast: Runtime, agent_id: str) -> None:
    calls = {"n": 0}
    lock = threading.Lock()

    def model(request: ChatRequest) -> ChatResponse:
        with lock:
            calls["n"] += 1
        done = sum(1 for m in request.messages if m["role"] == "tool")
        if done >= 12:
            return ChatResponse(tool_calls=[ScriptedLLM().call("complete_job", {"result": "ok"})])
        return ChatResponse(tool_calls=[ScriptedLLM().call("report_progress", {"note": "n"})])

    fast.services.llm_for = lambda _m: ScriptedLLM(fallback=model, summarizer=echo_summary)
    job = fast.jobs.submit(agent_id, "count", tenant="default", max_steps=50)
    workers = [Worker(fast, name=f"w{i}") for i in range(2)]
    threads = [threading.Thread(target=w.run_forever) for w in workers]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 30
    while fast.jobs.get(job.id, tenant="default").status != "succeeded":
        assert time.monotonic() < deadline, "job did not finish"
        time.sleep(0.05)
    for w in workers:
        w.stop()
    for t in threads:
        t.join(10)
    events = fast.jobs.events(job.id, tenant="default")
    steps = [e.data["step"] for e in events if e.kind == "step"]
    assert steps == list(range(1, len(steps) + 1))  # each step once, in order
    assert len({e.data["worker"] for e in events if e.kind == "step"}) == 1
    assert calls["n"] == len(steps)  # no model call was wasted on a second runner


def test_an_agent_runs_one_job_at_a_time(fast: Runtime, agent_id: str) -> None:
    """Two jobs of one agent would take turns on its conversation, each reading the other's
    steps as its own (one was ended by the other's complete_job): the second waits."""
    first = fast.jobs.submit(agent_id, "first", tenant="default")
    second = fast.jobs.submit(agent_id, "second", tenant="default")
    other_agent = fast.create_agent(AgentSpec(name="other-bee")).id
    third = fast.jobs.submit(other_agent, "third", tenant="default")
    a, b, c = (Worker(fast, name=n) for n in ("a", "b", "c"))
    assert a.claim() == first.id
    assert b.claim() == third.id  # the other agent's job, not the second of the busy one
    assert c.claim() is None
    llm = ScriptedLLM()
    llm.reply(complete_job={"result": "done"})
    fast.services.llm_for = lambda _m: llm
    a.run_job(first.id)  # the first ends: its agent is free
    assert fast.jobs.get(first.id, tenant="default").status == "succeeded"
    assert c.claim() == second.id


def test_a_scheduled_job_runs_again_on_its_interval(
    fast: Runtime, fake_llm: ScriptedLLM, agent_id: str
) -> None:
    fake_llm.reply(complete_job={"result": "report 1"})
    fake_llm.reply(complete_job={"result": "report 2"})
    first = fast.jobs.submit(agent_id, "daily report", tenant="default", schedule="1s")
    worker = Worker(fast)
    assert worker.run_once()
    runs = fast.jobs.list(tenant="default", agent_id=agent_id)
    assert [j.status for j in runs if j.id != first.id] == ["queued"]
    assert not worker.run_once()  # not due yet
    time.sleep(1.1)
    assert worker.run_once()
    runs = fast.jobs.list(tenant="default", agent_id=agent_id, status="succeeded")
    assert sorted(j.result or "" for j in runs) == ["report 1", "report 2"]
    assert {j.schedule_root or j.id for j in runs} == {first.id}
    pending = fast.jobs.list(tenant="default", agent_id=agent_id, status="queued")
    assert len(pending) == 1  # and the chain goes on
    fast.jobs.cancel(pending[0].id, tenant="default")
    assert fast.jobs.list(tenant="default", agent_id=agent_id, status="queued") == []


def test_provider_failures_fail_the_job_with_the_error(
    fast: Runtime, fake_llm: ScriptedLLM, agent_id: str
) -> None:
    job = fast.jobs.submit(agent_id, "doomed", tenant="default")
    fake_llm.push(ProviderBadRequest("model does not exist"))
    Worker(fast).run_once()
    done = fast.jobs.get(job.id, tenant="default")
    assert done.status == "failed" and done.stop_reason == "error"
    assert "model does not exist" in (done.error or "")


def test_a_long_job_pages_its_memory_and_finishes(fast: Runtime) -> None:
    agent_id = fast.create_agent(AgentSpec(name="long", context_window=2500)).id

    def model(request: ChatRequest) -> ChatResponse:
        done = fast.jobs.list(tenant="default", agent_id=agent_id)[0].steps
        if done >= 299:
            return ChatResponse(
                tool_calls=[ScriptedLLM().call("complete_job", {"result": "all done"})]
            )
        note = f"step {done}: measured reading {1000 + done}"
        name = "archival_memory_insert" if done % 2 else "report_progress"
        args = {"content": note} if done % 2 else {"note": note}
        return ChatResponse(tool_calls=[ScriptedLLM().call(name, args)])

    fast.services.llm_for = lambda _m: ScriptedLLM(fallback=model, summarizer=echo_summary)
    job = fast.jobs.submit(agent_id, "take 300 readings", tenant="default", max_steps=400)
    Worker(fast).run_once()
    done = fast.jobs.get(job.id, tenant="default")
    assert (done.status, done.steps) == ("succeeded", 300)
    assert fast.context(agent_id).total <= 2500
    with Session(fast.engine) as session:
        paged = list(session.exec(select(Passage).where(Passage.origin == "paged")))
        summaries = session.exec(select(Summary).where(Summary.agent_id == agent_id)).all()
    assert paged and summaries
    hits, _ = fast.search_archival(agent_id, "measured reading 1001")
    assert any("1001" in h.text for h in hits)  # what it stored early is findable
    # Progress reports are tool traffic: kept in recall and the job's events, not in archival.
    assert not any("1002" in p.text for p in paged)
    notes = [e.data.get("note") for e in fast.jobs.events(job.id, tenant="default", limit=2000)]
    assert "step 2: measured reading 1002" in notes


def test_chat_and_a_job_take_turns_on_one_agent(fast: Runtime, agent_id: str) -> None:
    def model(request: ChatRequest) -> ChatResponse:
        time.sleep(0.02)
        if request.messages[-1].get("content") == "hello during the job":
            return ChatResponse(content="hi, I'm busy with a job")
        done = sum(1 for m in request.messages if m["role"] == "tool")
        if done >= 15:
            return ChatResponse(tool_calls=[ScriptedLLM().call("complete_job", {"result": "ok"})])
        return ChatResponse(tool_calls=[ScriptedLLM().call("report_progress", {"note": "n"})])

    fast.services.llm_for = lambda _m: ScriptedLLM(fallback=model)
    job = fast.jobs.submit(agent_id, "work", tenant="default", max_steps=50)
    worker = Worker(fast)
    thread = threading.Thread(target=worker.run_once)
    thread.start()
    time.sleep(0.1)
    reply = fast.send(agent_id, ["hello during the job"])
    thread.join(20)
    assert reply.messages[-1].content == "hi, I'm busy with a job"
    assert fast.jobs.get(job.id, tenant="default").status == "succeeded"
    turns = [m.turn_id for m in fast.messages(agent_id, limit=500)]
    chat = [i for i, t in enumerate(turns) if t == reply.turn_id]
    assert chat == list(range(chat[0], chat[0] + len(chat)))  # the chat turn never interleaved


@pytest.fixture(autouse=True)
def ended_jobs_hold_no_lease(fast: Runtime) -> Iterator[None]:
    yield
    with Session(fast.engine) as session:
        assert all(
            j.lease_owner is None
            for j in session.exec(
                select(Job).where(col(Job.status).in_(["succeeded", "failed", "cancelled"]))
            )
        )
