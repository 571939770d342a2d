"""Jobs and their schedules: limits at submission, first runs, and cancelling a schedule."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import Session

from agent_runtime.core.errors import InvalidInput
from agent_runtime.core.limits import MAX_GOAL_CHARS, MAX_SCHEDULE_SECONDS
from agent_runtime.core.specs import AgentSpec
from agent_runtime.jobs.worker import Worker
from agent_runtime.llm import ChatRequest, ChatResponse
from agent_runtime.llm.scripted import ScriptedLLM
from agent_runtime.runtime import Runtime
from agent_runtime.storage.tables import Job


@pytest.fixture
def agent_id(runtime: Runtime) -> str:
    runtime.settings = runtime.settings.with_(job_lease_seconds=5.0, worker_poll_seconds=0.02)
    return runtime.create_agent(AgentSpec(name="scheduler")).id


def utc(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def statuses(runtime: Runtime, agent_id: str) -> list[str]:
    return [j.status for j in runtime.jobs.list(tenant="default", agent_id=agent_id)]


def event_kinds(runtime: Runtime, job_id: str) -> list[str]:
    return [e.kind for e in runtime.jobs.events(job_id, tenant="default")]


def queued_runs(runtime: Runtime, agent_id: str) -> list[Job]:
    return runtime.jobs.list(tenant="default", agent_id=agent_id, status="queued")


@pytest.mark.parametrize("schedule", ["99999999999999999999d", "367d", "31622401s", "9" * 40 + "d"])
def test_an_interval_past_the_limit_is_refused_naming_it(
    runtime: Runtime, agent_id: str, schedule: str
) -> None:
    with pytest.raises(InvalidInput) as refused:
        runtime.jobs.submit(agent_id, "report", tenant="default", schedule=schedule)
    assert refused.value.field == "schedule"
    assert f"{MAX_SCHEDULE_SECONDS // 86400}d" in refused.value.message
    assert runtime.jobs.list(tenant="default") == []


def test_the_longest_interval_is_accepted(runtime: Runtime, agent_id: str) -> None:
    job = runtime.jobs.submit(agent_id, "yearly", tenant="default", schedule="366d")
    assert job.schedule == "366d"


def test_a_cron_line_that_never_matches_is_refused(runtime: Runtime, agent_id: str) -> None:
    with pytest.raises(InvalidInput, match="never matches"):
        runtime.jobs.submit(agent_id, "report", tenant="default", schedule="0 0 30 2 *")


def test_a_goal_past_the_limit_is_refused(runtime: Runtime, agent_id: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        runtime.jobs.submit(agent_id, "x" * (MAX_GOAL_CHARS + 1), tenant="default")
    assert refused.value.field == "goal" and str(MAX_GOAL_CHARS) in refused.value.message
    assert runtime.jobs.submit(agent_id, "x" * MAX_GOAL_CHARS, tenant="default").goal


@pytest.mark.parametrize("schedule", ["99999999999999999999d", "0 0 30 2 *"])
def test_a_run_whose_next_run_cannot_be_computed_still_ends(
    runtime: Runtime, fake_llm: ScriptedLLM, agent_id: str, schedule: str
) -> None:
    # A row written before submissions were checked: the schedule has no next run.
    with Session(runtime.engine) as session:
        old = Job(id="job-old", tenant_id="default", agent_id=agent_id, goal="r", max_steps=5)
        old.schedule = schedule
        session.add(old)
        session.commit()
    fake_llm.reply(complete_job={"result": "done"})
    assert Worker(runtime).run_once()
    done = runtime.jobs.get("job-old", tenant="default")
    assert (done.status, done.result, done.lease_owner) == ("succeeded", "done", None)
    assert statuses(runtime, agent_id) == ["succeeded"]  # nothing queued after it
    last = runtime.jobs.events("job-old", tenant="default")[-1]
    assert last.kind == "schedule_stopped"
    assert "cannot be computed" in last.data["reason"] and schedule in last.data["reason"]


def test_a_cron_schedule_runs_first_at_its_next_match_in_utc(
    runtime: Runtime, agent_id: str
) -> None:
    before = datetime.now(UTC)
    job = runtime.jobs.submit(agent_id, "nightly", tenant="default", schedule="0 3 * * *")
    expected = before.replace(hour=3, minute=0, second=0, microsecond=0)
    if expected <= before:
        expected += timedelta(days=1)
    assert utc(runtime.jobs.get(job.id, tenant="default").run_after) == expected
    assert not Worker(runtime).run_once()  # not due yet


def test_an_interval_schedule_runs_first_at_submission(
    runtime: Runtime, fake_llm: ScriptedLLM, agent_id: str
) -> None:
    before = datetime.now(UTC)
    job = runtime.jobs.submit(agent_id, "hourly", tenant="default", schedule="1h")
    assert utc(runtime.jobs.get(job.id, tenant="default").run_after) - before < timedelta(seconds=5)
    fake_llm.reply(complete_job={"result": "first"})
    assert Worker(runtime).run_once()
    [following] = queued_runs(runtime, agent_id)
    wait = utc(following.run_after) - datetime.now(UTC)
    assert timedelta(minutes=59) < wait <= timedelta(hours=1)


def test_cancelling_the_first_run_after_it_ended_stops_the_schedule(
    runtime: Runtime, fake_llm: ScriptedLLM, agent_id: str
) -> None:
    first = runtime.jobs.submit(agent_id, "hourly", tenant="default", schedule="1h")
    fake_llm.reply(complete_job={"result": "first"})
    Worker(runtime).run_once()
    [following] = queued_runs(runtime, agent_id)

    answer = runtime.jobs.cancel(first.id, tenant="default")
    assert answer.id == first.id and answer.status == "succeeded"  # the run itself had ended
    assert queued_runs(runtime, agent_id) == []
    assert runtime.jobs.get(following.id, tenant="default").status == "cancelled"
    assert event_kinds(runtime, first.id)[-1] == "schedule_stopped"
    runtime.jobs.cancel(first.id, tenant="default")  # again: nothing more happens
    assert event_kinds(runtime, first.id).count("schedule_stopped") == 1


def test_cancelling_a_later_queued_run_stops_the_schedule(
    runtime: Runtime, fake_llm: ScriptedLLM, agent_id: str
) -> None:
    runtime.jobs.submit(agent_id, "hourly", tenant="default", schedule="1h")
    fake_llm.reply(complete_job={"result": "first"})
    Worker(runtime).run_once()
    [following] = queued_runs(runtime, agent_id)
    assert runtime.jobs.cancel(following.id, tenant="default").status == "cancelled"
    assert sorted(statuses(runtime, agent_id)) == ["cancelled", "succeeded"]


def make_due(runtime: Runtime, job_id: str) -> None:
    with Session(runtime.engine) as session:
        job = session.get(Job, job_id)
        assert job is not None
        job.run_after = datetime.now(UTC) - timedelta(seconds=1)
        session.add(job)
        session.commit()


def test_cancelling_the_first_run_stops_a_later_run_that_is_running(
    runtime: Runtime, agent_id: str
) -> None:
    first = runtime.jobs.submit(agent_id, "hourly", tenant="default", schedule="1h", max_steps=5)
    mid_step, release = threading.Event(), threading.Event()
    calls = 0

    def model(_request: ChatRequest) -> ChatResponse:
        nonlocal calls
        calls += 1
        if calls == 1:
            return ChatResponse(tool_calls=[ScriptedLLM().call("complete_job", {"result": "1"})])
        mid_step.set()
        release.wait(10)
        return ChatResponse(tool_calls=[ScriptedLLM().call("report_progress", {"note": "n"})])

    runtime.services.llm_for = lambda _m: ScriptedLLM(fallback=model)
    worker = Worker(runtime)
    assert worker.run_once()
    [second] = queued_runs(runtime, agent_id)
    make_due(runtime, second.id)
    thread = threading.Thread(target=worker.run_once)
    thread.start()
    assert mid_step.wait(10)
    runtime.jobs.cancel(first.id, tenant="default")  # the id `jobs submit` printed
    release.set()
    thread.join(10)
    stopped = runtime.jobs.get(second.id, tenant="default")
    assert (stopped.status, stopped.steps) == ("cancelled", 1)  # before its next step
    assert sorted(statuses(runtime, agent_id)) == ["cancelled", "succeeded"]
    assert event_kinds(runtime, second.id)[-1] == "schedule_stopped"


def test_a_run_that_completes_as_its_schedule_is_cancelled_queues_nothing(
    runtime: Runtime, agent_id: str
) -> None:
    first = runtime.jobs.submit(agent_id, "hourly", tenant="default", schedule="1h")

    def model(_request: ChatRequest) -> ChatResponse:
        runtime.jobs.cancel(first.id, tenant="default")  # lands while the step is under way
        return ChatResponse(tool_calls=[ScriptedLLM().call("complete_job", {"result": "1"})])

    runtime.services.llm_for = lambda _m: ScriptedLLM(fallback=model)
    assert Worker(runtime).run_once()
    done = runtime.jobs.get(first.id, tenant="default")
    assert (done.status, done.result) == ("succeeded", "1")
    assert statuses(runtime, agent_id) == ["succeeded"]
    assert event_kinds(runtime, first.id)[-1] == "schedule_stopped"


def test_intervals_are_ascii_digits() -> None:
    from agent_runtime.jobs.queue import interval_seconds

    assert interval_seconds("3h") == 3 * 3600
    assert interval_seconds("٣h") is None  # Arabic-Indic three: int() would take it
