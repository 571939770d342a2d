"""What each console page shows, read from the runtime in one worker thread per page and
handed to its template as the REST API's own response models (so a page shows what the API
would answer, scoped to the same tenant)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Any, Literal

from pydantic import Field

from agent_runtime.core.specs import Scope
from agent_runtime.runtime import Runtime
from agent_runtime.storage.tables import utcnow
from server.memory_models import FactOut
from server.responses import AgentOut, BlockOut, ContextOut, HitOut, JobOut, MessageOut
from server.schemas import Params, SearchText

MAX_LISTED_AGENTS = 200  # the agents page lists at most these; a search narrows them
SHOWN_MESSAGES = 60
SHOWN_FACTS = 200
SHOWN_JOBS = 10
SEARCH_LIMIT = 20
BACKLOG_WORTH_SHOWING = 100  # rows waiting for the indexer before it is news
CONTEXT_PARTS = ("system", "blocks", "summary", "facts", "messages", "tools")


class AgentSearch(Params):
    """The agents page's filter: part of a name, any case."""

    q: Annotated[str, Field(max_length=100)] = ""


class MemorySearch(Params):
    """The agent page's search form: which memory, what, and between which days."""

    corpus: Literal["archival", "conversation", "facts"] = "archival"
    q: SearchText | Literal[""] = ""
    start: date | None = None
    end: date | None = None

    def bounds(self) -> tuple[datetime | None, datetime | None]:
        """From the start of `start` to the end of `end`, in UTC."""
        begin = None if self.start is None else datetime.combine(self.start, time(), UTC)
        stop = None if self.end is None else datetime.combine(self.end, time(), UTC)
        return begin, None if stop is None else stop + timedelta(days=1)


@dataclass
class Segment:
    part: str
    tokens: int
    percent: float  # of the window


@dataclass
class SearchResults:
    corpus: str
    hits: list[HitOut] = field(default_factory=list)
    facts: list[FactOut] = field(default_factory=list)
    total: int = 0


def banner(runtime: Runtime, tenant: str) -> list[str]:
    """What is wrong with the server for this tenant, in words; empty when all is well."""
    health = runtime.health(tenant=tenant)
    indexer: dict[str, Any] = health["indexer"]  # type: ignore[assignment]
    extraction: dict[str, Any] = health["extraction"]  # type: ignore[assignment]
    problems = []
    if health["status"] != "ok":
        problems.append("Indexing is failing: searches use keywords only until it recovers.")
    if indexer["parked_rows"]:
        problems.append(f"{indexer['parked_rows']} rows could not be indexed and are parked.")
    if indexer["failing_agents"]:
        error = indexer["last_error"]
        detail = f" Last error: {error['error']}" if error else ""
        problems.append(f"Indexing fails for {indexer['failing_agents']} agents.{detail}")
    if extraction["parked"]:
        error = extraction["last_error"]
        detail = f" Last error: {error}" if error else ""
        problems.append(f"{extraction['parked']} fact extraction batches are parked.{detail}")
    if problems or indexer["pending_rows"] >= BACKLOG_WORTH_SHOWING:
        problems.append(
            f"Backlog: {indexer['pending_rows']} rows waiting for the indexer, "
            f"{extraction['queued']} batches waiting for fact extraction."
        )
    return problems


def agents(runtime: Runtime, tenant: str, search: AgentSearch) -> tuple[list[AgentOut], bool]:
    """The agents whose names contain the search, oldest first, at most MAX_LISTED_AGENTS;
    and whether there are more."""
    rows = runtime.list_agents(
        tenant=tenant, limit=MAX_LISTED_AGENTS + 1, containing=search.q or None
    )
    return [AgentOut.of(a) for a in rows[:MAX_LISTED_AGENTS]], len(rows) > MAX_LISTED_AGENTS


def agent(runtime: Runtime, tenant: str, agent_id: str, search: MemorySearch) -> dict[str, Any]:
    """Everything the agent page shows, with the results of its search form if one was sent."""
    row = runtime.get_agent(agent_id, tenant=tenant)
    tools = runtime.custom_tools.attached_names([row.id])[row.id]
    messages = runtime.messages(row.id, tenant=tenant, limit=SHOWN_MESSAGES)
    context = ContextOut.of(runtime.context(row.id, tenant=tenant))
    now = utcnow()
    facts = runtime.facts.list_(
        tenant, Scope(agent_id=row.id), include_history=True, limit=SHOWN_FACTS
    )
    timeline = sorted((FactOut.of(f, now) for f in facts), key=lambda f: f.valid_at, reverse=True)
    jobs = runtime.jobs.list(tenant=tenant, agent_id=row.id, limit=SHOWN_JOBS)
    return {
        "agent": AgentOut.of(row, tools),
        "messages": [MessageOut.of(m) for m in messages],
        "context": context,
        "segments": segments(context),
        "blocks": [BlockOut.of(b) for b in runtime.blocks(row.id, tenant=tenant)],
        "current_facts": [f for f in timeline if f.status == "current"],
        "future_facts": [f for f in timeline if f.status == "future"],
        "past_facts": [f for f in timeline if f.status not in ("current", "future")],
        "jobs": [JobOut.of(j) for j in jobs],
        "search": search,
        "results": results(runtime, tenant, row.id, search) if search.q else None,
    }


def segments(context: ContextOut) -> list[Segment]:
    """The context window as parts of a bar: each part's share of the window (of the total
    when the prompt is over the window)."""
    whole = max(context.window, context.total, 1)
    return [
        Segment(part, getattr(context, part), 100 * getattr(context, part) / whole)
        for part in CONTEXT_PARTS
    ]


def results(runtime: Runtime, tenant: str, agent_id: str, search: MemorySearch) -> SearchResults:
    start, end = search.bounds()
    found = SearchResults(search.corpus)
    if search.corpus == "facts":
        hits = runtime.facts.search(
            tenant, search.q, Scope(agent_id=agent_id), include_history=True, limit=SEARCH_LIMIT
        )
        now = utcnow()
        found.facts = [
            FactOut.of(h.fact, now)
            for h in hits
            if (start is None or _aware(h.fact.valid_at) >= start)
            and (end is None or _aware(h.fact.valid_at) < end)
        ]
        found.total = len(found.facts)
        return found
    search_in = runtime.search_archival if search.corpus == "archival" else runtime.search_recall
    rows, found.total = search_in(
        agent_id, search.q, tenant=tenant, start=start, end=end, limit=SEARCH_LIMIT
    )
    found.hits = [HitOut.of(h) for h in rows]
    return found


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
