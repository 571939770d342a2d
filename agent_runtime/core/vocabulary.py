"""The fixed words recalld stores as strings: job statuses and event kinds, passage origins,
turn stop reasons.

Each is a `StrEnum`, so a member is its string in the database, in JSON and in comparisons.
"""

from __future__ import annotations

from enum import StrEnum


class JobStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def terminal(self) -> bool:
        return self in (JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELLED)


class JobEventKind(StrEnum):
    """What a job's event (a Server-Sent Event of /v1/jobs/{id}/events) tells."""

    STATUS = "status"
    STEP = "step"
    PROGRESS = "progress"
    CANCEL_REQUESTED = "cancel_requested"
    SCHEDULED = "scheduled"
    SCHEDULE_STOPPED = "schedule_stopped"


class Origin(StrEnum):
    """Who put a passage in archival memory."""

    AGENT = "agent"  # the agent, with archival_memory_insert
    USER = "user"  # a client, over the API
    PAGED = "paged"  # paging, when the turn left the context window


class StopReason(StrEnum):
    """Why a turn ended."""

    END_TURN = "end_turn"
    MAX_STEPS = "max_steps"
    ERROR = "error"
    CANCELLED = "cancelled"
    INTERRUPTED = "interrupted"  # its process died; reported when an idempotent send replays it
