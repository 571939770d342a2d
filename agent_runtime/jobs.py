"""Jobs: goals an agent pursues on its own for many steps, persisted so that no crash loses them.

`Jobs` is the API (submit, read, list, cancel, events); `agent_runtime/worker.py` runs them.
"""

from __future__ import annotations

import builtins
import re
import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from agent_runtime import agents as agents_
from agent_runtime.errors import InvalidInput, NotFound
from agent_runtime.storage.database import transaction
from agent_runtime.storage.tables import Job, JobEvent, utcnow

STATUSES = ("queued", "running", "succeeded", "failed", "cancelled")
TERMINAL = ("succeeded", "failed", "cancelled")
MAX_JOB_STEPS = 10_000
INTERVAL = re.compile(r"^\s*(\d+)\s*([smhd])\s*$")
UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
MIN_INTERVAL_SECONDS = 1


def interval_seconds(text: str) -> int | None:
    """Seconds in an interval like "90s", "30m", "1h" or "1d"; None if `text` is not one."""
    match = INTERVAL.match(text)
    return int(match.group(1)) * UNITS[match.group(2)] if match else None


def next_run(schedule: str, after: datetime) -> datetime:
    """When a scheduled job runs next: an interval ("30m", "1h", "1d") or a cron expression."""
    seconds = interval_seconds(schedule)
    if seconds is not None:
        return after + timedelta(seconds=seconds)
    from croniter import croniter

    return croniter(schedule, after).get_next(datetime)


def check_schedule(schedule: str) -> None:
    seconds = interval_seconds(schedule)
    if seconds is not None:
        if seconds < MIN_INTERVAL_SECONDS:
            raise InvalidInput(
                f"schedule interval must be at least {MIN_INTERVAL_SECONDS}s", field="schedule"
            )
        return
    from croniter import croniter

    if not croniter.is_valid(schedule) or len(schedule.split()) != 5:
        raise InvalidInput(
            "schedule must be an interval like 30m, 1h or 1d, or a five-field cron expression",
            field="schedule",
        )


def add_event(session: Session, job_id: str, kind: str, **data: Any) -> None:
    session.add(JobEvent(job_id=job_id, kind=kind, data=data))


def finish(
    session: Session,
    job: Job,
    status: str,
    reason: str,
    *,
    error: str | None = None,
    result: str | None = None,
) -> None:
    """Move a job to a final status, with its event, and queue the next run of a schedule."""
    job.status = status
    job.stop_reason = reason
    job.finished_at = job.updated_at = utcnow()
    job.lease_owner = None
    job.lease_until = None
    if error is not None:
        job.error = error
    if result is not None:
        job.result = result
    session.add(job)
    add_event(
        session,
        job.id,
        "status",
        status=status,
        stop_reason=reason,
        error=job.error,
        result=job.result,
        steps=job.steps,
    )
    if job.schedule and status != "cancelled":
        following = Job(
            id="job-" + uuid.uuid4().hex,
            tenant_id=job.tenant_id,
            agent_id=job.agent_id,
            goal=job.goal,
            max_steps=job.max_steps,
            max_duration_seconds=job.max_duration_seconds,
            schedule=job.schedule,
            schedule_root=job.schedule_root or job.id,
            run_after=next_run(job.schedule, utcnow()),
        )
        session.add(following)
        add_event(
            session,
            job.id,
            "scheduled",
            next_job_id=following.id,
            run_after=following.run_after.isoformat(),
        )


class Jobs:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def submit(
        self,
        agent_id: str,
        goal: str,
        *,
        tenant: str,
        max_steps: int = 100,
        max_duration_seconds: float | None = None,
        schedule: str | None = None,
    ) -> Job:
        if not goal.strip():
            raise InvalidInput("goal is empty", field="goal")
        if not 1 <= max_steps <= MAX_JOB_STEPS:
            raise InvalidInput(f"max_steps must be 1 to {MAX_JOB_STEPS}", field="max_steps")
        if max_duration_seconds is not None and max_duration_seconds <= 0:
            raise InvalidInput("max_duration must be positive", field="max_duration")
        if schedule:
            check_schedule(schedule)
        with transaction(self.engine) as session:
            agents_.get(session, tenant, agent_id)
            job = Job(
                id="job-" + uuid.uuid4().hex,
                tenant_id=tenant,
                agent_id=agent_id,
                goal=goal,
                max_steps=max_steps,
                max_duration_seconds=max_duration_seconds,
                schedule=schedule or None,
            )
            session.add(job)
            add_event(session, job.id, "status", status="queued")
        return job

    def get(self, job_id: str, *, tenant: str) -> Job:
        with Session(self.engine) as session:
            job = session.get(Job, job_id)
            if job is None or job.tenant_id != tenant:
                raise NotFound(f"job {job_id!r} not found")
            return job

    def list(
        self,
        *,
        tenant: str,
        agent_id: str | None = None,
        status: str | None = None,
        limit: int = 50,
        after: str | None = None,
    ) -> list[Job]:
        if status is not None and status not in STATUSES:
            raise InvalidInput(f"status must be one of {list(STATUSES)}", field="status")
        query = select(Job).where(Job.tenant_id == tenant)
        if agent_id:
            query = query.where(Job.agent_id == agent_id)
        if status:
            query = query.where(Job.status == status)
        if after:
            query = query.where(col(Job.id) > after)
        with Session(self.engine) as session:
            return list(session.exec(query.order_by(col(Job.id)).limit(limit)))

    def cancel(self, job_id: str, *, tenant: str) -> Job:
        """A queued job is cancelled at once; a running one stops before its next step."""
        with transaction(self.engine) as session:
            job = session.get(Job, job_id)
            if job is None or job.tenant_id != tenant:
                raise NotFound(f"job {job_id!r} not found")
            if job.status == "queued":
                finish(session, job, "cancelled", "cancelled")
            elif job.status == "running":
                job.cancel_requested = True
                job.updated_at = utcnow()
                session.add(job)
                add_event(session, job.id, "cancel_requested")
            return job

    def events(
        self, job_id: str, *, tenant: str, after: int = 0, limit: int = 200
    ) -> builtins.list[JobEvent]:
        self.get(job_id, tenant=tenant)
        with Session(self.engine) as session:
            query = (
                select(JobEvent)
                .where(JobEvent.job_id == job_id, col(JobEvent.id) > after)
                .order_by(col(JobEvent.id))
                .limit(limit)
            )
            return list(session.exec(query))
