"""Job workers: claim a job with a lease, run it step by step, survive crashes.

A claim is one conditional UPDATE, so two workers never hold one job. Each step is an agent turn
of one step whose transaction also records the job's progress and renews its lease; a step whose
worker lost the lease meanwhile rolls back. A worker that dies (even SIGKILL) leaves its lease to
lapse, and the next worker resumes from the last committed step: none is run twice or skipped.
Between steps the agent's lease is released, so chat and the job take turns on one agent.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from datetime import datetime, timedelta
from functools import partial
from typing import Protocol

from sqlalchemy import and_, func, or_, update
from sqlalchemy.engine import Engine
from sqlalchemy.orm import aliased
from sqlmodel import Session, col, select

import prompts
from agent_runtime.core.errors import (
    AgentBusy,
    ContextTooSmall,
    LeaseLost,
    ProviderError,
    ProviderRateLimited,
    ProviderTimeout,
)
from agent_runtime.core.settings import Settings
from agent_runtime.core.vocabulary import JobEventKind, JobStatus
from agent_runtime.embedding import Embedder
from agent_runtime.facts.store import FactMemory
from agent_runtime.jobs.queue import TERMINAL, add_event, finish
from agent_runtime.llm import Usage
from agent_runtime.retrieval.search import Searcher
from agent_runtime.storage.database import transaction
from agent_runtime.storage.tables import Agent, Job, Message, utcnow
from agent_runtime.turns.loop import TurnOptions, TurnResult
from agent_runtime.turns.services import Services
from agent_runtime.turns.tool_memory import AgentMemory
from memory_tools.jobs import job_registry

log = logging.getLogger(__name__)
TRANSIENT_RETRIES = 3


class Host(Protocol):
    """What a worker needs of the runtime it runs jobs on (`Runtime` is one)."""

    @property
    def engine(self) -> Engine: ...

    @property
    def settings(self) -> Settings: ...

    @property
    def services(self) -> Services: ...

    def run_turn(
        self,
        agent_id: str,
        inputs: list[tuple[str, str]],
        options: TurnOptions,
        *,
        tenant: str = ...,
        lease_seconds: float | None = None,
    ) -> TurnResult: ...


class JobAgentMemory(AgentMemory):
    """The agent's memory plus the job tools' two verbs, inside the step's transaction."""

    def __init__(
        self,
        session: Session,
        agent: Agent,
        searcher: Searcher,
        embedder: Embedder,
        turn_start: int | None = None,
        *,
        job_id: str,
        facts: FactMemory | None = None,
        user_id: str | None = None,
    ) -> None:
        super().__init__(
            session, agent, searcher, embedder, turn_start, facts=facts, user_id=user_id
        )
        self.job_id = job_id

    def _job(self) -> Job:
        job = self.session.get(Job, self.job_id)
        assert job is not None
        return job

    def report_progress(self, note: str) -> None:
        job = self._job()
        job.progress_note = note
        self.session.add(job)
        add_event(self.session, job.id, JobEventKind.PROGRESS, note=note)

    def complete(self, result: str) -> None:
        job = self._job()
        job.result = result
        self.session.add(job)


class Worker:
    def __init__(self, runtime: Host, name: str | None = None) -> None:
        self.runtime = runtime
        self.engine = runtime.engine
        self.settings = runtime.settings
        self.id = name or f"worker-{uuid.uuid4().hex[:8]}"
        self.tools = job_registry(runtime.services.tools)
        self._stop = threading.Event()

    # -- the loop ---------------------------------------------------------------------------

    def run_forever(self) -> None:
        while not self._stop.is_set():
            try:
                if not self.run_once():
                    self._stop.wait(self.settings.worker_poll_seconds)
            except Exception:  # one bad job must not kill the worker
                log.exception("worker %s failed", self.id)
                self._stop.wait(self.settings.worker_poll_seconds)

    def stop(self) -> None:
        self._stop.set()

    def run_once(self) -> bool:
        """Claim one job and run it to its end (or until this worker stops); False if none."""
        job_id = self.claim()
        if job_id is None:
            return False
        self.run_job(job_id)
        return True

    def _lease_until(self) -> datetime:
        return utcnow() + timedelta(seconds=self.settings.job_lease_seconds)

    def claim(self) -> str | None:
        """Claim the oldest due job whose agent runs no other job: two jobs of one agent
        would take turns on its conversation and each read the other's steps as its own."""
        now = utcnow()
        other = aliased(Job)
        agent_busy = (
            select(other.id)
            .where(
                col(other.agent_id) == col(Job.agent_id),
                col(other.id) != col(Job.id),
                col(other.status) == JobStatus.RUNNING,
                col(other.lease_until) >= now,
            )
            .exists()
        )
        claimable = and_(
            or_(
                and_(col(Job.status) == JobStatus.QUEUED, col(Job.run_after) <= now),
                and_(col(Job.status) == JobStatus.RUNNING, col(Job.lease_until) < now),
            ),
            ~agent_busy,
        )
        with Session(self.engine) as session:
            candidates = list(
                session.exec(
                    select(Job.id, Job.agent_id)
                    .where(claimable)
                    .order_by(col(Job.run_after))
                    .limit(5)
                )
            )
        for job_id, agent_id in candidates:
            with transaction(self.engine) as session:
                # Claims of one agent's jobs one at a time (PostgreSQL): the second sees the
                # first's committed claim in agent_busy. A turn's fence waits for it, briefly.
                hold = select(Agent.id).where(col(Agent.id) == agent_id)
                session.exec(hold.with_for_update(key_share=True)).first()
                claimed = session.exec(
                    update(Job)
                    .where(col(Job.id) == job_id, claimable)
                    .values(
                        status=JobStatus.RUNNING,
                        lease_owner=self.id,
                        lease_until=self._lease_until(),
                        attempts=Job.attempts + 1,
                        started_at=func.coalesce(Job.started_at, now),
                        updated_at=now,
                    )
                ).rowcount
                if claimed == 1:
                    add_event(
                        session,
                        job_id,
                        JobEventKind.STATUS,
                        status=JobStatus.RUNNING,
                        worker=self.id,
                    )
                    return job_id
        return None

    def run_job(self, job_id: str) -> None:
        transient = 0
        while not self._stop.is_set():
            plan = self._next_inputs(job_id)
            if plan is None:
                return
            agent_id, tenant, inputs = plan
            options = TurnOptions(
                max_steps=1,
                tools=self.tools,
                turn_id=job_id,
                extract=False,  # a job's own steps are not a conversation to learn facts from
                memory=partial(JobAgentMemory, job_id=job_id),
                on_step=lambda session, _agent, new, usage: self._on_step(
                    session, job_id, new, usage
                ),
            )
            try:
                self.runtime.run_turn(
                    agent_id,
                    inputs,
                    options,
                    tenant=tenant,
                    lease_seconds=self.settings.job_lease_seconds,
                )
                transient = 0
            except AgentBusy:
                continue  # a chat turn holds the agent; the job waits its turn
            except LeaseLost:
                log.warning("worker %s lost job %s to another worker", self.id, job_id)
                return
            except (ProviderRateLimited, ProviderTimeout) as exc:
                transient += 1
                if transient > TRANSIENT_RETRIES:
                    self._fail(job_id, f"{exc.code}: {exc.message}")
                    return
                time.sleep(min(2**transient, 30))
            except (ProviderError, ContextTooSmall) as exc:
                self._fail(job_id, f"{exc.code}: {exc.message}")
                return
            except Exception as exc:
                log.exception("job %s failed", job_id)
                self._fail(job_id, f"internal error: {type(exc).__name__}")
                return

    # -- inside transactions ----------------------------------------------------------------

    def _next_inputs(self, job_id: str) -> tuple[str, str, list[tuple[str, str]]] | None:
        """Check the job's state and limits; the inputs for its next step, or None if it ended."""
        with transaction(self.engine) as session:
            job = session.get(Job, job_id)
            if job is None or job.status in TERMINAL or job.lease_owner != self.id:
                return None
            if job.cancel_requested:
                finish(session, job, JobStatus.CANCELLED, "cancelled")
                return None
            if job.steps >= job.max_steps:
                finish(
                    session,
                    job,
                    JobStatus.FAILED,
                    "max_steps",
                    error=f"the job used all {job.max_steps} steps without completing",
                )
                return None
            elapsed = (utcnow() - job.started_at).total_seconds() if job.started_at else 0.0
            if job.max_duration_seconds is not None and elapsed > job.max_duration_seconds:
                finish(
                    session,
                    job,
                    JobStatus.FAILED,
                    "max_duration",
                    error=f"the job ran past its {job.max_duration_seconds:g}s limit",
                )
                return None
            if session.get(Agent, job.agent_id) is None:
                finish(session, job, JobStatus.FAILED, "error", error="the agent was deleted")
                return None
            job.lease_until = self._lease_until()
            session.add(job)
            last = session.exec(
                select(Message)
                .where(Message.agent_id == job.agent_id, Message.turn_id == job_id)
                .order_by(col(Message.id).desc())
                .limit(1)
            ).first()
            if last is None:
                text = prompts.render(
                    "job_start.j2", job_id=job.id, goal=job.goal, max_steps=job.max_steps
                )
                inputs = [("user", text.strip())]
            elif last.role == "assistant" and not last.tool_calls:
                text = prompts.render(
                    "job_continue.j2", job_id=job.id, steps_left=job.max_steps - job.steps
                )
                inputs = [("user", text.strip())]
            else:
                inputs = []  # resume after a tool result or a prompt already recorded
            return job.agent_id, job.tenant_id, inputs

    def _on_step(self, session: Session, job_id: str, new: list[Message], usage: Usage) -> None:
        job = session.get(Job, job_id)
        assert job is not None
        if job.lease_owner != self.id:
            raise LeaseLost(f"job {job_id} is no longer leased to {self.id}")
        job.steps += 1
        job.prompt_tokens += usage.prompt_tokens
        job.completion_tokens += usage.completion_tokens
        job.lease_until = self._lease_until()
        job.updated_at = utcnow()
        assistant = new[0]
        calls = [c["function"]["name"] for c in assistant.tool_calls or []]
        add_event(
            session,
            job_id,
            JobEventKind.STEP,
            step=job.steps,
            worker=self.id,
            tools=calls,
            content=assistant.content or None,
            attempts=assistant.attempts,
            prompt_tokens=job.prompt_tokens,
            completion_tokens=job.completion_tokens,
        )
        if assistant.content and not calls:
            job.progress_note = assistant.content
            add_event(session, job_id, JobEventKind.PROGRESS, note=assistant.content)
        session.add(job)
        if job.result is not None and job.status == JobStatus.RUNNING:
            finish(session, job, JobStatus.SUCCEEDED, "completed")

    def _fail(self, job_id: str, error: str) -> None:
        with transaction(self.engine) as session:
            job = session.get(Job, job_id)
            if job is not None and job.status not in TERMINAL and job.lease_owner == self.id:
                finish(session, job, JobStatus.FAILED, "error", error=error)


class WorkerPool:
    """Worker threads for a server or for `recalld worker`."""

    def __init__(self, runtime: Host, size: int) -> None:
        self.workers = [Worker(runtime) for _ in range(size)]
        self.threads = [
            threading.Thread(target=w.run_forever, name=w.id, daemon=True) for w in self.workers
        ]

    def start(self) -> None:
        for thread in self.threads:
            thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        for worker in self.workers:
            worker.stop()
        deadline = time.monotonic() + timeout
        for thread in self.threads:
            thread.join(max(deadline - time.monotonic(), 0.1))
