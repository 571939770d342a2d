"""The tools recalld offers as an MCP server (`server/mcp_server.py` serves them): their
arguments, what each does with the runtime, and the plain text it answers a model with."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, Field, ValidationError

from agent_runtime.core import limits
from agent_runtime.core.errors import NotFound
from agent_runtime.core.specs import FactInput
from agent_runtime.core.specs import Scope as FactScope
from agent_runtime.facts.store import WriteResult, status_of
from agent_runtime.runtime import Runtime
from agent_runtime.storage.tables import Fact, utcnow
from server.memory_models import FactText, FieldText, Kind, ValueText
from server.openai_models import BETWEEN_MESSAGES, spoken
from server.schemas import Body, Content, Id, SearchText, Start, Tag

# -- arguments --------------------------------------------------------------------------------

AgentRef = Annotated[Id, Field(description="The agent's name (as list_agents shows) or its id.")]
ScopeId = Annotated[Id | None, Field(description="Whose memory; leave out for any.")]


class ScopeArgs(Body):
    user_id: ScopeId = None
    agent_id: ScopeId = None
    run_id: ScopeId = None

    def scope(self) -> FactScope:
        return FactScope(self.user_id, self.agent_id, self.run_id)


class MemoryAdd(ScopeArgs):
    statement: FactText = Field("", description="The fact as a sentence: 'Ada is vegetarian'.")
    subject: FieldText = Field("", description="Who or what the fact is about: 'Ada'.")
    attribute: FieldText = Field("", description="Which of its properties: 'lives_in'.")
    value: ValueText = Field("", description="The property's value: 'Lisbon'.")
    kind: Kind = "fact"
    negates: bool = Field(False, description="True: the value is no longer so (retire it).")
    valid_at: Start | None = Field(None, description="Since when it is true; default: now.")


class MemorySearch(ScopeArgs):
    query: SearchText
    as_of: Start | None = Field(None, description="What was true then (default: now).")
    include_history: bool = Field(False, description="Also superseded and retired facts.")
    limit: Annotated[int, Field(ge=1, le=100)] = 10


class ArchivalSearch(Body):
    agent: AgentRef
    query: SearchText
    tags: list[Tag] = Field(default_factory=list, max_length=limits.MAX_TAGS)
    limit: Annotated[int, Field(ge=1, le=50)] = 10


class ArchivalInsert(Body):
    agent: AgentRef
    text: Annotated[str, Field(min_length=1, max_length=limits.MAX_PASSAGE_CHARS)]
    tags: list[Tag] = Field(default_factory=list, max_length=limits.MAX_TAGS)


class SendMessage(Body):
    agent: AgentRef
    message: Content
    user_id: ScopeId = None


class ListAgents(Body):
    limit: Annotated[int, Field(ge=1, le=limits.MAX_PAGE)] = 50


# -- the tools --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Tool:
    name: str
    description: str
    args: type[BaseModel]
    run: Callable[[Runtime, str, Any], str]  # (runtime, tenant, args) -> text; in a thread
    read_only: bool = False


def memory_add(runtime: Runtime, tenant: str, args: MemoryAdd) -> str:
    fact = FactInput(
        text=args.statement,
        subject=args.subject,
        attribute=args.attribute,
        value=args.value,
        kind=args.kind,
        negates=args.negates,
        valid_at=args.valid_at,
    )
    result = runtime.facts.write(tenant, [fact], args.scope(), actor="mcp")
    return _changes(result)


def memory_search(runtime: Runtime, tenant: str, args: MemorySearch) -> str:
    hits = runtime.facts.search(
        tenant,
        args.query,
        args.scope(),
        as_of=args.as_of,
        include_history=args.include_history,
        limit=args.limit,
    )
    now = utcnow()
    return "\n".join(_fact_line(h.fact, now) for h in hits) or "no facts found"


def archival_search(runtime: Runtime, tenant: str, args: ArchivalSearch) -> str:
    agent_id = find_agent(runtime, args.agent, tenant)
    hits, total = runtime.search_archival(
        agent_id, args.query, tenant=tenant, tags=args.tags, limit=args.limit
    )
    lines = [f"{len(hits)} of {total} passages:"] if hits else ["no passages found"]
    for hit in hits:
        tags = f" [{', '.join(hit.tags)}]" if hit.tags else ""
        lines.append(f"#{hit.id} {_day(hit.created_at)}{tags}: {hit.text}")
    return "\n".join(lines)


def archival_insert(runtime: Runtime, tenant: str, args: ArchivalInsert) -> str:
    agent_id = find_agent(runtime, args.agent, tenant)
    passage = runtime.insert_passage(agent_id, args.text, tags=args.tags, tenant=tenant)
    return f"inserted passage #{passage.id} into the archival memory of {args.agent}"


def send_message(runtime: Runtime, tenant: str, args: SendMessage) -> str:
    agent_id = find_agent(runtime, args.agent, tenant)
    turn = runtime.send(agent_id, [args.message], tenant=tenant, user_id=args.user_id)
    reply = BETWEEN_MESSAGES.join(spoken(turn.messages))
    return reply or f"(the agent answered without text; its turn ended: {turn.stop_reason})"


def list_agents(runtime: Runtime, tenant: str, args: ListAgents) -> str:
    agents = runtime.list_agents(tenant=tenant, limit=args.limit)
    lines = [f"{a.name} (id {a.id}, model {a.model}, created {_day(a.created_at)})" for a in agents]
    return "\n".join(lines) or "no agents yet"


TOOLS = {
    tool.name: tool
    for tool in [
        Tool(
            "memory_add",
            "Remember one fact for later. Give a statement ('Ada is vegetarian'), or a "
            "subject, attribute and value (Ada, lives_in, Lisbon): a new value of a "
            "single-valued attribute supersedes the old one, which is kept as history; "
            "negates=true retires a value. Scope it with user_id (and agent_id, run_id) when "
            "it is about one user. Answers what changed.",
            MemoryAdd,
            memory_add,
        ),
        Tool(
            "memory_search",
            "Search remembered facts by keywords and meaning. By default only facts true now; "
            "as_of gives those true at a past date, include_history adds superseded ones. Each "
            "line: #id [status, since date, until date] statement (scope).",
            MemorySearch,
            memory_search,
            read_only=True,
        ),
        Tool(
            "archival_search",
            "Search an agent's archival memory (long passages it or you filed) by keywords and "
            "meaning; tags narrow it to passages with every tag given.",
            ArchivalSearch,
            archival_search,
            read_only=True,
        ),
        Tool(
            "archival_insert",
            "File a passage (a document, notes, a transcript) in an agent's archival memory, "
            "where it and archival_search will find it.",
            ArchivalInsert,
            archival_insert,
        ),
        Tool(
            "send_message",
            "Send a message to an agent and get its reply. The agent remembers the "
            "conversation, so send only what is new. user_id says who is speaking (the facts "
            "it learns are theirs).",
            SendMessage,
            send_message,
        ),
        Tool(
            "list_agents",
            "List the agents (name, id, model), oldest first.",
            ListAgents,
            list_agents,
            read_only=True,
        ),
    ]
}


def find_agent(runtime: Runtime, ref: str, tenant: str) -> str:
    agent = runtime.find_agent(ref, tenant=tenant)
    if agent is None:
        raise NotFound(f"no agent named {ref!r} (list_agents shows them)")
    return agent.id


# -- text -------------------------------------------------------------------------------------


def _day(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d")


def _fact_line(fact: Fact, now: datetime) -> str:
    when = f"since {_day(fact.valid_at)}"
    if fact.invalid_at is not None:
        when += f", until {_day(fact.invalid_at)}"
    scope = ", ".join(
        f"{name} {value}"
        for name, value in [("user", fact.user_id), ("agent", fact.agent_id), ("run", fact.run_id)]
        if value is not None
    )
    return f"#{fact.id} [{status_of(fact, now)}, {when}] {fact.text}" + (
        f" ({scope})" if scope else ""
    )


def _changes(result: WriteResult) -> str:
    lines = [f"added #{f.id}: {f.text}" for f in result.added]
    lines += [f"merged with #{f.id} (seen again): {f.text}" for f in result.merged]
    lines += [f"superseded #{f.id} by #{by}: {f.text}" for f, by in result.superseded]
    lines += [f"retired #{f.id}: {f.text}" for f in result.negated]
    lines += [f"unchanged: {why}" for _, why in result.unchanged]
    return "\n".join(lines) or "nothing changed"


def invalid(exc: ValidationError) -> str:
    return "invalid arguments: " + "; ".join(
        f"{'.'.join(str(p) for p in e['loc']) or 'arguments'}: {e['msg']}" for e in exc.errors()
    )
