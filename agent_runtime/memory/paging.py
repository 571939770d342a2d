"""Context paging: evict the oldest turns, fold them into the recursive summary, keep them findable.

An assistant message with tool calls and its tool results form one group and leave together;
the newest group never leaves. Evicted messages stay in recall; what was said (user and
assistant text, not tool traffic) becomes archival passages that keep their original timestamps.
If the summariser fails, paging still happens with a truncation notice in place of a new
summary, so an agent is never stuck on a full context.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta

from sqlmodel import Session

import prompts
from agent_runtime.core.vocabulary import Origin
from agent_runtime.llm import LLM, ChatRequest
from agent_runtime.llm.tokens import TokenCounter
from agent_runtime.memory import messages as messages_
from agent_runtime.memory import passages as passages_
from agent_runtime.memory.window import latest_summary, refresh_system
from agent_runtime.storage.tables import Agent, Message, Passage, Summary, utcnow

log = logging.getLogger(__name__)

TRANSCRIPT_CHARS_PER_MESSAGE = 2000


@dataclass(frozen=True)
class Plan:
    evict: list[Message]
    summary: str
    truncated: bool
    # Days the paged-out turns live in archival memory (settings.lifetimes); None: for ever.
    lifetime_days: float | None = None


def groups(rows: list[Message]) -> list[list[Message]]:
    """Messages split so that tool results stay with the call that produced them."""
    out: list[list[Message]] = []
    for row in rows:
        if row.role == "tool" and out:
            out[-1].append(row)
        else:
            out.append([row])
    return out


def choose_eviction(rows: list[Message], tokens_to_free: int) -> list[Message]:
    """The oldest whole groups that free at least `tokens_to_free`, never the newest group."""
    chosen: list[Message] = []
    freed = 0
    for group in groups(rows)[:-1]:
        if freed >= tokens_to_free:
            break
        chosen.extend(group)
        freed += sum(m.tokens for m in group)
    return chosen


def summary_budget(window: int) -> int:
    return max(window // 10, 48)


def summarize(
    llm: LLM,
    agent: Agent,
    previous: str,
    evicted: list[Message],
    timeout: float,
    api_key: str | None = None,
) -> tuple[str, bool]:
    """A new recursive summary, or a truncation notice (and True) if the summariser failed."""
    transcript = "\n".join(
        f"[{m.created_at.isoformat(timespec='minutes')}] "
        + messages_.as_text(m)[:TRANSCRIPT_CHARS_PER_MESSAGE]
        for m in evicted
    )
    max_words = int(summary_budget(agent.context_window) * 0.7)
    request = ChatRequest(
        model=agent.model,
        base_url=agent.model_base_url,
        api_key=api_key,
        timeout=timeout,
        messages=[
            {
                "role": "user",
                "content": prompts.render(
                    "summarize.j2",
                    previous=previous,
                    count=len(evicted),
                    transcript=transcript,
                    max_words=max_words,
                ),
            }
        ],
    )
    try:
        text = llm.complete(request).content.strip()
    except Exception:  # any failure of the summariser must not leave the agent stuck
        log.exception("summariser failed for agent %s; paging with a truncation notice", agent.id)
        text = ""
    if text:
        return text, False
    notice = prompts.render(
        "truncated.j2",
        previous=previous,
        count=len(evicted),
        first=evicted[0].created_at.isoformat(timespec="minutes"),
        last=evicted[-1].created_at.isoformat(timespec="minutes"),
    )
    return notice.strip(), True


def clip_summary(text: str, budget: int, counter: TokenCounter, model: str) -> str:
    """Hold the summary to its token budget, cutting the oldest matter (the front) first."""
    while counter.text(model, text) > budget and len(text) > 40:
        text = "…" + text[len(text) // 5 :]
    return text


def apply(session: Session, agent: Agent, plan: Plan, counter: TokenCounter) -> None:
    """Write one paging step: summary row, evicted flags, archival passages, new system prompt."""
    text = clip_summary(plan.summary, summary_budget(agent.context_window), counter, agent.model)
    session.add(
        Summary(
            agent_id=agent.id,
            text=text,
            evicted_through=plan.evict[-1].id or 0,
            evicted_count=len(plan.evict),
            truncated=plan.truncated,
            tokens=counter.text(agent.model, text),
        )
    )
    messages_.mark_evicted(session, [m.id for m in plan.evict if m.id is not None])
    # The conversation goes to archival, not tool traffic: a search for what was said should
    # not rank "[called core_memory_append(...)]" beside it. Tool calls and results stay in
    # recall memory (conversation_search with roles=["tool"]).
    before = messages_.spoken_before(session, plan.evict[0])
    filed: list[Passage] = []
    days = plan.lifetime_days
    expires_at = None if days is None else utcnow() + timedelta(days=days)
    for message in plan.evict:
        if message.role not in messages_.SPOKEN or not message.content:
            continue
        text = f"{message.role}: {message.content}"
        filed.append(
            Passage(
                agent_id=agent.id,
                text=text,
                prior=before,
                tags=[],
                origin=Origin.PAGED,
                source_message_id=message.id,
                created_at=message.created_at,
                expires_at=expires_at,
            )
        )
        session.add(filed[-1])
        agent.passage_count += 1
        before = text
    session.flush()
    for passage in filed:
        passages_.audit(session, passage, "inserted", "paging")
    refresh_system(session, agent, counter)


def previous_summary(session: Session, agent_id: str) -> str:
    summary = latest_summary(session, agent_id)
    return summary.text if summary else ""
