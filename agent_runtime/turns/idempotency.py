"""Idempotent sends: a client that lost the answer to a send retries it with the same
`Idempotency-Key` and gets the turn that was saved, instead of a second turn.

The key is written in the transaction that records the turn's input messages, so a key exists
exactly when its turn started; the outcome (stop reason, steps, usage) is written when the turn
ends. A key whose turn never ended (its process died) replays what was saved with the stop
reason `interrupted`. Keys are per agent; the check runs under the agent's lease, so two
requests with one key cannot both start a turn.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from sqlalchemy import update
from sqlmodel import Session, col, select

from agent_runtime.core.errors import Conflict, InvalidInput
from agent_runtime.core.limits import MAX_IDEMPOTENCY_KEY_CHARS
from agent_runtime.core.vocabulary import StopReason
from agent_runtime.llm import Usage
from agent_runtime.memory import messages as messages_
from agent_runtime.storage.tables import IdempotencyKey, Message

if TYPE_CHECKING:  # the loop records keys through this module
    from agent_runtime.turns.loop import TurnResult

KEY = re.compile(rf"[\x21-\x7e]{{1,{MAX_IDEMPOTENCY_KEY_CHARS}}}")
INTERRUPTED = StopReason.INTERRUPTED


def check(key: str) -> None:
    if not KEY.fullmatch(key):
        raise InvalidInput(
            f"an idempotency key is 1-{MAX_IDEMPOTENCY_KEY_CHARS} printable ASCII characters "
            "without spaces",
            field="idempotency_key",
        )


def record(session: Session, agent_id: str, key: str, turn_id: str) -> None:
    session.add(IdempotencyKey(agent_id=agent_id, key=key, turn_id=turn_id))


def finish(
    session: Session, agent_id: str, key: str, stop_reason: str, result: TurnResult | None
) -> None:
    """Record how the key's turn ended (`result` is None when it raised)."""
    steps = result.steps if result else 0
    usage = result.usage if result else Usage()
    session.exec(
        update(IdempotencyKey)
        .where(col(IdempotencyKey.agent_id) == agent_id, col(IdempotencyKey.key) == key)
        .values(
            stop_reason=stop_reason,
            steps=steps,
            prompt_tokens=usage.prompt_tokens,
            completion_tokens=usage.completion_tokens,
        )
    )


def find(
    session: Session, agent_id: str, key: str, inputs: list[tuple[str, str]]
) -> tuple[IdempotencyKey, list[Message]] | None:
    """The stored turn of `key` and its messages; a key reused for other input is a Conflict."""
    query = select(IdempotencyKey).where(
        IdempotencyKey.agent_id == agent_id, IdempotencyKey.key == key
    )
    row = session.exec(query).first()
    if row is None:
        return None
    rows = messages_.of_turn(session, agent_id, row.turn_id)
    sent = [(m.role, m.content) for m in rows[: len(inputs)]]
    if sent != inputs:
        raise Conflict(
            f"idempotency key {key!r} was used for a different request on this agent",
            field="idempotency_key",
        )
    return row, rows
