"""Archival passages' own rules (their tags have `tags.py`)."""

from __future__ import annotations

from sqlmodel import Session

from agent_runtime.core.errors import InvalidInput
from agent_runtime.core.limits import MAX_PASSAGE_CHARS
from agent_runtime.storage.tables import Passage, PassageEvent


def check_text(text: str) -> None:
    """A passage says something, within the size limit."""
    if not text.strip():
        raise InvalidInput("passage text is empty", field="text")
    if len(text) > MAX_PASSAGE_CHARS:
        raise InvalidInput(f"passage is over {MAX_PASSAGE_CHARS} characters", field="text")


def audit(
    session: Session,
    passage: Passage,
    event: str,
    actor: str,
    *,
    turn_id: str | None = None,
) -> None:
    """Record an insert or a delete in the caller's transaction. A delete keeps the text (what
    was removed); an insert need not, the passage holds it."""
    assert passage.id is not None, "flush the passage first"
    session.add(
        PassageEvent(
            agent_id=passage.agent_id,
            passage_id=passage.id,
            event=event,
            text="" if event == "inserted" else passage.text,
            actor=actor,
            turn_id=turn_id,
        )
    )
