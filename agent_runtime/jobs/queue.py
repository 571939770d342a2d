"""Jobs: goals an agent pursues on its own for many steps, persisted so that no crash loses them.

`Jobs` is the API (submit, read, list, cancel, events); `agent_runtime/worker.py` runs them.

A schedule repeats a job: each run is its own row, and every run after the first names the first
in `schedule_root`. An interval ("30m", "1d") runs first at submission, then that long after each
run ends; a cron expression runs at its matching times, in UTC, the first of them after
submission. Cancelling any run of a schedule stops the whole schedule.
"""

from __future__ import annotations

import builtins
import re
import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, or_, select

from agent_runtime.core.errors import InvalidInput, NotFound
from agent_runtime.core.limits import MAX_GOAL_CHARS, MAX_JOB_STEPS, MAX_SCHEDULE_SECONDS
from agent_runtime.core.vocabulary import JobEventKind, JobStatus
from agent_runtime.memory import agents as agents_
from agent_runtime.storage.database import transaction
from agent_runtime.storage.tables import Job, JobEvent, utcnow

STATUSES = tuple(JobStatus)
TERMINAL = tuple(s for s in JobStatus if s.terminal)
# At most 20 digits: enough for any interval under the limit, and int() never sees a huge string.
INTERVAL = re.compile(r"^\s*([0-9]{1,20})\s*([smhd])\s*$")  # ASCII: "٣h" is no interval
UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
MIN_INTERVAL_SECONDS = 1
SCHEDULE_HELP = (
    f"an interval like 30m, 1h or 1d (at most {MAX_SCHEDULE_SECONDS // 86400}d), "
    "or a five-field cron expression (UTC)"
)


def interval_seconds(text: str) -> int | None:
    """Seconds in an interval like "90s", "30m", "1h" or "1d"; None if `text` is not one."""
    match = INTERVAL.match(text)
    return int(match.group(1)) * UNITS[match.group(2)] if match else None


def next_run(schedule: str, after: datetime) -> datetime:
    """When a scheduled job runs next: an interval ("30m", "1h", "1d") after `after`, or the
    next time a cron expression matches (UTC when `after` is).

    Raises OverflowError or ValueError when there is no such time.
    """
    seconds = interval_seconds(schedule)
    if seconds is not None:
        return after + timedelta(seconds=seconds)
    from croniter import croniter

    following: datetime = croniter(schedule, after).get_next(datetime)
    return following


def first_run(schedule: str, now: datetime) -> datetime:
    """When a new schedule runs first: an interval at once, a cron expression at its next match.

    Raises InvalidInput, naming the limit, for a schedule that recalld cannot run.
    """
    seconds = interval_seconds(schedule)
    if seconds is not None:
        if not MIN_INTERVAL_SECONDS <= seconds <= MAX_SCHEDULE_SECONDS:
            raise InvalidInput(
                f"schedule interval must be {MIN_INTERVAL_SECONDS}s to "
                f"{MAX_SCHEDULE_SECONDS // 86400}d ({MAX_SCHEDULE_SECONDS}s)",
                field="schedule",
            )
        return now
    from croniter import croniter

    if len(schedule.split()) != 5 or not croniter.is_valid(schedule):
        raise InvalidInput(f"schedule must be {SCHEDULE_HELP}", field="schedule")
    try:
        return next_run(schedule, now)
    except (OverflowError, ValueError) as exc:
        raise InvalidInput(f"schedule {schedule!r} never matches a date", field="schedule") from exc


def add_event(session: Session, job_id: str, kind: JobEventKind, **data: Any) -> None:
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
    """Move a job to a final status, with its event, and queue the next run of a schedule.

    The job always ends here: a schedule whose next run cannot be computed stops, with a
    `schedule_stopped` event that says why.
    """
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
        JobEventKind.STATUS,
        status=status,
        stop_reason=reason,
        error=job.error,
        result=job.result,
        steps=job.steps,
    )
    if job.schedule:
        _queue_next_run(session, job)


def _queue_next_run(session: Session, job: Job) -> None:
    assert job.schedule is not None
    if job.status == JobStatus.CANCELLED or _schedule_cancelled(session, job):
        add_event(session, job.id, JobEventKind.SCHEDULE_STOPPED, reason="cancelled")
        return
    try:
        run_after = next_run(job.schedule, utcnow())
    except (OverflowError, ValueError) as exc:
        add_event(
            session,
            job.id,
            JobEventKind.SCHEDULE_STOPPED,
            reason=f"the next run of schedule {job.schedule!r} cannot be computed ({exc})",
        )
        return
    following = Job(
        id="job-" + uuid.uuid4().hex,
        tenant_id=job.tenant_id,
        agent_id=job.agent_id,
        goal=job.goal,
        max_steps=job.max_steps,
        max_duration_seconds=job.max_duration_seconds,
        schedule=job.schedule,
        schedule_root=job.schedule_root or job.id,
        run_after=run_after,
    )
    session.add(following)
    add_event(
        session,
        job.id,
        JobEventKind.SCHEDULED,
        next_job_id=following.id,
        run_after=following.run_after.isoformat(),
    )


def _lock_root(session: Session, job: Job) -> Job | None:
    """The first run of `job`'s schedule, read afresh and locked (PostgreSQL; SQLite's write
    transactions are serial anyway). Its `cancel_requested` marks the whole schedule as cancelled,
    and `Jobs.cancel` takes this lock first, so a run that is queueing its successor and a cancel
    of the schedule never miss each other."""
    query = (
        select(Job)
        .where(col(Job.id) == (job.schedule_root or job.id))
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return session.exec(query).first()


def _schedule_cancelled(session: Session, job: Job) -> bool:
    root = _lock_root(session, job)
    return job.cancel_requested or (root is not None and root.cancel_requested)


def _cancel_run(session: Session, job: Job) -> None:
    if job.status == JobStatus.QUEUED:
        finish(session, job, JobStatus.CANCELLED, "cancelled")
    elif job.status == JobStatus.RUNNING and not job.cancel_requested:
        job.cancel_requested = True
        job.updated_at = utcnow()
        session.add(job)
        add_event(session, job.id, JobEventKind.CANCEL_REQUESTED)


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
        """Queue a job. With a `schedule` (see the module docstring), the job is its first run:
        at once for an interval, at the next matching time (UTC) for a cron expression."""
        if not goal.strip():
            raise InvalidInput("goal is empty", field="goal")
        if len(goal) > MAX_GOAL_CHARS:
            raise InvalidInput(
                f"goal is {len(goal)} characters; the limit is {MAX_GOAL_CHARS}", field="goal"
            )
        if not 1 <= max_steps <= MAX_JOB_STEPS:
            raise InvalidInput(f"max_steps must be 1 to {MAX_JOB_STEPS}", field="max_steps")
        if max_duration_seconds is not None and max_duration_seconds <= 0:
            raise InvalidInput("max_duration must be positive", field="max_duration")
        now = utcnow()
        run_after = first_run(schedule, now) if schedule else now
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
                run_after=run_after,
            )
            session.add(job)
            add_event(session, job.id, JobEventKind.STATUS, status=JobStatus.QUEUED)
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
        """Cancel a job: a queued job at once, a running one before its next step.

        Any run of a schedule (the first or a later one, ended or not) stops the whole schedule:
        its queued runs are cancelled, a running one stops before its next step, and no run is
        queued after them.
        """
        with transaction(self.engine) as session:
            job = session.get(Job, job_id)
            if job is None or job.tenant_id != tenant:
                raise NotFound(f"job {job_id!r} not found")
            if not job.schedule:
                _cancel_run(session, job)
                return job
            root = _lock_root(session, job)
            stopped_before = root is not None and root.cancel_requested
            root_id = job.schedule_root or job.id
            live = (
                select(Job)
                .where(
                    or_(col(Job.id) == root_id, col(Job.schedule_root) == root_id),
                    col(Job.status).in_((JobStatus.QUEUED, JobStatus.RUNNING)),
                )
                .execution_options(populate_existing=True)
            )
            for run in session.exec(live).all():
                _cancel_run(session, run)
            if root is not None and not root.cancel_requested:
                root.cancel_requested = True  # the first run ended: the flag stops its schedule
                session.add(root)
            if job.status in TERMINAL and job.stop_reason != "cancelled" and not stopped_before:
                add_event(session, job.id, JobEventKind.SCHEDULE_STOPPED, reason="cancelled")
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

    def latest_events(self, job_id: str, *, tenant: str, limit: int) -> builtins.list[JobEvent]:
        """A job's newest `limit` events, oldest first."""
        self.get(job_id, tenant=tenant)
        with Session(self.engine) as session:
            query = (
                select(JobEvent)
                .where(JobEvent.job_id == job_id)
                .order_by(col(JobEvent.id).desc())
                .limit(limit)
            )
            return list(session.exec(query))[::-1]
