"""Recall memory: every message ever exchanged, and the in-context buffer drawn from it."""

from __future__ import annotations

from typing import Any

from sqlalchemy import update
from sqlmodel import Session, col, select

from agent_runtime.core.errors import InvalidInput
from agent_runtime.storage.tables import Message

INPUT_ROLES = ("user", "system")
IMPORT_ROLES = ("user", "assistant", "system")  # history brought in from elsewhere
MAX_IMPORT = 10_000  # messages per import call
SEARCH_ROLES = ("user", "assistant", "system")  # tool results only when asked for
MAX_INPUT_CHARS = 200_000
SPOKEN = ("user", "assistant")  # what the conversation says, as against tool traffic


def storable(text: str) -> str:
    """Text as every database keeps it: PostgreSQL refuses NUL, which a model may emit."""
    return text.replace("\x00", "")


def to_openai(message: Message) -> dict[str, Any]:
    """The message as the OpenAI chat format has it."""
    if message.role == "assistant":
        out: dict[str, Any] = {"role": "assistant", "content": message.content or None}
        if message.tool_calls:
            out["tool_calls"] = message.tool_calls
        return out
    if message.role == "tool":
        return {
            "role": "tool",
            "tool_call_id": message.tool_call_id,
            "name": message.name,
            "content": message.content,
        }
    return {"role": message.role, "content": message.content}


def body(message: Message) -> str:
    """The message's text, with any tool calls written out."""
    if message.role == "assistant" and message.tool_calls:
        calls = "; ".join(
            f"{c['function']['name']}({c['function']['arguments']})" for c in message.tool_calls
        )
        lead = f"{message.content} " if message.content else ""
        return f"{lead}[called {calls}]"
    if message.role == "tool":
        return f"{message.name} returned: {message.content}"
    return message.content


def as_text(message: Message) -> str:
    """One line of text for summaries, archival passages and embeddings."""
    return f"{message.role}: {body(message)}"


def check_input(role: str, content: str, roles: tuple[str, ...] = INPUT_ROLES) -> None:
    if role not in roles:
        raise InvalidInput(f"message role must be one of {list(roles)}", field="role")
    if not content.strip():
        raise InvalidInput("message content is empty", field="content")
    if len(content) > MAX_INPUT_CHARS:
        raise InvalidInput(
            f"message is {len(content)} characters; the limit is {MAX_INPUT_CHARS}",
            field="content",
        )


def last_spoken(session: Session, agent_id: str) -> str:
    """The text of the agent's latest spoken message in context: the prior of the next one."""
    query = (
        select(Message.content)
        .where(
            Message.agent_id == agent_id,
            col(Message.in_context).is_(True),
            col(Message.role).in_(SPOKEN),
            Message.content != "",
        )
        .order_by(col(Message.id).desc())
        .limit(1)
    )
    return session.exec(query).first() or ""


def last_spoken_in(request_messages: list[dict[str, Any]]) -> str:
    """`last_spoken` read off a request already built from the context (no query)."""
    for message in reversed(request_messages):
        content = message.get("content")
        if message.get("role") in SPOKEN and isinstance(content, str) and content:
            return content
    return ""


def chain(rows: list[Message], before: str) -> None:
    """Give each spoken message with text the spoken text before it as its prior, so a reply is
    found by the words of what it answers ("where shall we moor?" -> "pier seven")."""
    for row in rows:
        if row.role in SPOKEN and row.content:
            row.prior = before
            before = row.content


def in_context(session: Session, agent_id: str) -> list[Message]:
    query = (
        select(Message)
        .where(Message.agent_id == agent_id, col(Message.in_context).is_(True))
        .order_by(col(Message.id))
    )
    return list(session.exec(query))


def of_turn(session: Session, agent_id: str, turn_id: str) -> list[Message]:
    query = (
        select(Message)
        .where(Message.agent_id == agent_id, Message.turn_id == turn_id)
        .order_by(col(Message.id))
    )
    return list(session.exec(query))


def history(
    session: Session,
    agent_id: str,
    *,
    limit: int,
    before: int | None = None,
    after: int | None = None,
) -> list[Message]:
    """A page of history in order; `before`/`after` are message ids (cursors)."""
    query = select(Message).where(Message.agent_id == agent_id)
    if after is not None:
        query = query.where(col(Message.id) > after).order_by(col(Message.id)).limit(limit)
        return list(session.exec(query))
    if before is not None:
        query = query.where(col(Message.id) < before)
    rows = list(session.exec(query.order_by(col(Message.id).desc()).limit(limit)))
    return rows[::-1]


def spoken_before(session: Session, message: Message) -> str:
    """The latest spoken text before `message` in its agent's history, as "role: text"."""
    query = (
        select(Message)
        .where(
            Message.agent_id == message.agent_id,
            col(Message.id) < message.id,
            col(Message.role).in_(SPOKEN),
            Message.content != "",
        )
        .order_by(col(Message.id).desc())
        .limit(1)
    )
    found = session.exec(query).first()
    return f"{found.role}: {found.content}" if found else ""


def mark_evicted(session: Session, ids: list[int]) -> None:
    if ids:
        session.exec(update(Message).where(col(Message.id).in_(ids)).values(in_context=False))


def newest_user_text(session: Session, agent_id: str) -> str:
    """The newest user message in the context window, or "" (what a facts section answers)."""
    query = (
        select(Message.content)
        .where(Message.agent_id == agent_id, col(Message.in_context).is_(True))
        .where(Message.role == "user")
        .order_by(col(Message.id).desc())
        .limit(1)
    )
    return session.exec(query).first() or ""


def mark_failed(session: Session, ids: list[int], attempts: list[dict[str, Any]]) -> None:
    """The inputs of a turn that no model answered; the last keeps the attempts made."""
    rows = [session.get(Message, i) for i in ids]
    for row in rows:
        if row is not None:
            row.failed = True
            session.add(row)
    if rows and rows[-1] is not None:
        rows[-1].attempts = attempts or None


def resent(session: Session, agent_id: str, inputs: list[tuple[str, str]]) -> list[Message]:
    """The newest messages, when they are failed inputs that `inputs` repeats exactly (a
    client sending a turn again after it failed); else none."""
    query = (
        select(Message)
        .where(Message.agent_id == agent_id)
        .order_by(col(Message.id).desc())
        .limit(len(inputs))
    )
    newest = list(reversed(session.exec(query).all()))
    if len(newest) != len(inputs) or not all(m.failed and m.in_context for m in newest):
        return []
    return newest if [(m.role, m.content) for m in newest] == list(inputs) else []
