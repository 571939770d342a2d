"""The facts section of an agent's context: the facts most relevant to the newest user message,
within a token budget, rendered once per turn. It goes after the conversation so far and before
that message, so the provider's cached prefix (system prompt and history) stays the same."""

from __future__ import annotations

from dataclasses import dataclass

import prompts
from agent_runtime.core.errors import RecalldError
from agent_runtime.core.specs import Scope
from agent_runtime.facts.search import Brief
from agent_runtime.facts.store import FactMemory
from agent_runtime.llm.tokens import TokenCounter
from agent_runtime.storage.tables import Agent

CANDIDATES = 30
FEW = 60  # a scope with at most this many facts is read whole (and shown whole if it fits)
SHARE = 0.1  # of the context window, at most


@dataclass(frozen=True)
class FactsSection:
    text: str
    tokens: int
    count: int


def build(
    facts: FactMemory,
    counter: TokenCounter,
    agent: Agent,
    query: str,
    user_id: str | None,
    share: float = SHARE,
) -> FactsSection | None:
    """The section for `query` (the newest user message), or None when no fact is found. Only
    this agent's facts for this user (or for no user) are searched: never another user's."""
    if not query.strip():
        return None
    scope = Scope(user_id=user_id, agent_id=agent.id)
    budget = int(agent.context_window * share)
    empty = counter.text(agent.model, prompts.render("facts_section.j2", facts=[]))
    fitted: list[bool] = []

    def whole(rows: list[Brief]) -> bool:
        lines = "\n".join(_written(_line(f)) for f in rows)
        fitted.append(empty + counter.text(agent.model, lines) <= budget)
        return fitted[-1]

    try:
        # A scope of few facts is read whole and ranked in memory: if they all fit, with no
        # query embedding on the reply path.
        found = facts.few(agent.tenant_id, query[:4000], scope, most=FEW, whole=whole)
        if found == []:
            return None
        if found is not None:
            ranked = found
        else:
            hits = facts.search(
                agent.tenant_id, query[:4000], scope, limit=CANDIDATES, exact_scope=True
            )
            ranked = [Brief.of(h.fact) for h in hits]
    except RecalldError:
        return None  # a turn goes on without its facts rather than fail
    if found is not None and fitted and fitted[-1]:
        chosen = [_line(f) for f in ranked]  # counted together above: they all fit
    else:
        chosen, used = [], empty
        for fact in ranked:
            line = _line(fact)
            cost = counter.text(agent.model, _written(line))
            if used + cost > budget:
                break
            used += cost
            chosen.append(line)
    if not chosen:
        return None
    text = prompts.render("facts_section.j2", facts=chosen)
    return FactsSection(text, counter.text(agent.model, text), len(chosen))


def _line(fact: Brief) -> dict[str, str]:
    return {"text": fact.text, "since": fact.valid_at.date().isoformat(), "kind": fact.kind}


def _written(line: dict[str, str]) -> str:
    """A fact's line as facts_section.j2 writes it, for counting its tokens."""
    kind = "" if line["kind"] == "fact" else f", {line['kind']}"
    return f"- {line['text']} [{line['since']}{kind}]"
