"""Archival passages' own rules (their tags have `tags.py`)."""

from __future__ import annotations

from agent_runtime.core.errors import InvalidInput
from agent_runtime.core.limits import MAX_PASSAGE_CHARS


def check_text(text: str) -> None:
    """A passage says something, within the size limit."""
    if not text.strip():
        raise InvalidInput("passage text is empty", field="text")
    if len(text) > MAX_PASSAGE_CHARS:
        raise InvalidInput(f"passage is over {MAX_PASSAGE_CHARS} characters", field="text")
