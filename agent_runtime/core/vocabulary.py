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


class FactKind(StrEnum):
    """What a fact is. Events and plans are episodic: they expire (settings.episodic_ttl_days)."""

    FACT = "fact"
    PREFERENCE = "preference"
    EVENT = "event"
    PLAN = "plan"
    RELATIONSHIP = "relationship"

    @property
    def episodic(self) -> bool:
        return self in (FactKind.EVENT, FactKind.PLAN)


class Cardinality(StrEnum):
    """How many values a slot holds at once: one (a new value replaces the old) or many."""

    SINGLE = "single"
    MANY = "many"


class Retired(StrEnum):
    """Why a fact left the present."""

    SUPERSEDED = "superseded"  # a newer value of its single-valued slot
    NEGATED = "negated"  # a fact said it is no longer so
    DELETED = "deleted"  # a client deleted it
    # A "no longer" that found nothing to retire: kept (never true itself) so that the value
    # it names, arriving later with an earlier time, is closed by it.
    NEGATION = "negation"


class FactEventKind(StrEnum):
    """A change in a fact's history."""

    ADDED = "added"
    MERGED = "merged"  # the same statement again: more evidence, one row
    SUPERSEDED = "superseded"
    NEGATED = "negated"
    UPDATED = "updated"  # PATCH
    DELETED = "deleted"
    PURGED = "purged"


class MemoryMode(StrEnum):
    """How an agent's memory is kept."""

    AUTO = "auto"  # facts extracted from its turns in the background, and brought into context
    TOOLS = "tools"  # only what it writes with its memory tools


class ExtractionStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    PARKED = "parked"  # failed too often; kept with its error, retried only when asked
