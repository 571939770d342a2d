"""The two extra tools an agent has while it works on a job."""

from __future__ import annotations

from typing import Protocol

from memory_tools.memory import Memory, ToolError
from memory_tools.registry import ToolRegistry

MAX_NOTE = 4000


class JobMemory(Memory, Protocol):
    def report_progress(self, note: str) -> None: ...

    def complete(self, result: str) -> None: ...


def report_progress(memory: JobMemory, note: str) -> str:
    """Tell the person who gave you this job how it is going; keep working afterwards.

    Args:
        note: A short progress note: what is done, what comes next.
    """
    if not note.strip():
        raise ToolError("note is empty")
    memory.report_progress(note.strip()[:MAX_NOTE])
    return "progress noted; carry on"


def complete_job(memory: JobMemory, result: str) -> str:
    """Finish the job and hand over its result. Call it once, when the goal is met.

    Args:
        result: The outcome of the job, complete enough to stand on its own.
    """
    if not result.strip():
        raise ToolError("result is empty; describe what the job achieved")
    memory.complete(result.strip())
    return "job completed"


def job_registry(base: ToolRegistry) -> ToolRegistry:
    registry = base.copy()
    registry.register(report_progress)
    registry.register(complete_job)
    return registry
