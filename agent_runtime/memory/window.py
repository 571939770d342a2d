"""The context window: the rendered system prompt, the in-context buffer, and their token counts."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from sqlmodel import Session, col, select

import prompts
from agent_runtime.llm.tokens import TokenCounter
from agent_runtime.memory import blocks as blocks_
from agent_runtime.memory import messages as messages_
from agent_runtime.storage.tables import Agent, Message, Summary


def latest_summary(session: Session, agent_id: str) -> Summary | None:
    query = select(Summary).where(Summary.agent_id == agent_id).order_by(col(Summary.id).desc())
    return session.exec(query.limit(1)).first()


def render_system(session: Session, agent: Agent) -> str:
    summary = latest_summary(session, agent.id)
    return prompts.render(
        "system.j2",
        instructions=agent.instructions,
        blocks=blocks_.of_agent(session, agent.id),
        message_count=agent.message_count,
        passage_count=agent.passage_count,
        memory_edited_at=(
            agent.memory_edited_at.isoformat(timespec="seconds")
            if agent.memory_edited_at
            else "never"
        ),
        summary=summary.text if summary else "",
    )


def refresh_system(session: Session, agent: Agent, counter: TokenCounter) -> None:
    """Re-render the system prompt; called only when memory changed, so provider caches hold."""
    text = render_system(session, agent)
    if text != agent.system_prompt:
        agent.system_prompt = text
        agent.system_prompt_tokens = counter.text(agent.model, text)
    session.add(agent)


@dataclass(frozen=True)
class Breakdown:
    system: int
    blocks: int
    summary: int
    messages: int
    tools: int
    total: int
    window: int
    in_context_messages: int
    # What the model sees first: the rendered system prompt (instructions, blocks, summary),
    # and the running summary of paged-out turns on its own (empty before the first page-out).
    system_prompt: str = ""
    summary_text: str = ""
    # The facts section (automatic memory) the newest user message brings in, and its size.
    facts: int = 0
    facts_text: str = ""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def prompt_tokens(agent: Agent, rows: list[Message], tool_tokens: int) -> int:
    return agent.system_prompt_tokens + sum(r.tokens for r in rows) + tool_tokens


def request_messages(agent: Agent, rows: list[Message]) -> list[dict[str, Any]]:
    return [{"role": "system", "content": agent.system_prompt}] + [
        messages_.to_openai(r) for r in rows
    ]


def breakdown(session: Session, agent: Agent, counter: TokenCounter, tool_tokens: int) -> Breakdown:
    rows = messages_.in_context(session, agent.id)
    block_rows = blocks_.of_agent(session, agent.id)
    block_tokens = sum(
        counter.text(agent.model, f"<{b.label}>\n{b.value}\n</{b.label}>") for b in block_rows
    )
    summary = latest_summary(session, agent.id)
    summary_tokens = summary.tokens if summary else 0
    message_tokens = sum(r.tokens for r in rows)
    return Breakdown(
        system=max(agent.system_prompt_tokens - block_tokens - summary_tokens, 0),
        blocks=block_tokens,
        summary=summary_tokens,
        messages=message_tokens,
        tools=tool_tokens,
        total=agent.system_prompt_tokens + message_tokens + tool_tokens,
        window=agent.context_window,
        in_context_messages=len(rows),
        system_prompt=agent.system_prompt,
        summary_text=summary.text if summary else "",
    )
