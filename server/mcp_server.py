"""recalld as an MCP server (the official `mcp` SDK's low-level `Server`): six tools over a
tenant's fact memory and agents, for MCP clients such as desktop assistants, IDEs and other
agents. Two transports:

- stdio (`recalld mcp`): a process on the operator's machine with the database itself, acting
  for one tenant (`default`, or `--tenant`), as `recalld keys create --local` does: whoever can
  start it can already read the data under RECALLD_HOME.
- streamable HTTP at `/mcp` of the running server: the same API keys and tenants as the REST
  API (`server/auth.py`); a missing or bad key is refused (401) before the MCP layer. With no
  key configured, only loopback clients are served, and a request whose Host or Origin is not
  loopback is refused (403): a web page reached through DNS rebinding is not the operator.
  Stateless and answering in JSON: every POST is one exchange, nothing lives between requests,
  so the server starts and stops at once whether or not MCP is used.

A tool's failure (a `RecalldError`, arguments out of bounds) is an MCP tool error carrying its
message, so the model can correct itself; anything else is logged and answered generically."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any
from urllib.parse import urlsplit

import anyio
import mcp_types as types
from mcp.server import Server, ServerRequestContext
from mcp.server.stdio import stdio_server
from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
from pydantic import BaseModel, Field, ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.types import Receive, Scope, Send

from agent_runtime.core import limits
from agent_runtime.core.errors import Forbidden, NotFound, RecalldError, Unauthorized
from agent_runtime.core.settings import Settings
from agent_runtime.core.specs import FactInput
from agent_runtime.core.specs import Scope as FactScope
from agent_runtime.facts.store import WriteResult, status_of
from agent_runtime.memory.agents import NAME
from agent_runtime.runtime import Runtime
from agent_runtime.storage.tables import Fact, utcnow
from server.auth import Auth, is_loopback
from server.errors import error_response
from server.memory_models import FactText, FieldText, Kind, ValueText
from server.openai_models import BETWEEN_MESSAGES, spoken
from server.schemas import Body, Content, Id, SearchText, Start, Tag

log = logging.getLogger("recalld.mcp")

TENANT = "recalld.tenant"  # the key under which /mcp leaves the caller's tenant in the scope
INSTRUCTIONS = (
    "recalld keeps long-term memory: facts about users (memory_add, memory_search), and agents "
    "with their own archival memory and conversation (list_agents, send_message, "
    "archival_search, archival_insert). Search memory before asking the user again; write down "
    "what they tell you that will matter later."
)

TenantOf = Callable[[ServerRequestContext[Any, Any]], str]

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
    """The id of the agent `ref` names: by name first, else by id."""
    if NAME.fullmatch(ref):
        named = runtime.list_agents(tenant=tenant, limit=1, name=ref)
        if named:
            return named[0].id
    try:
        return runtime.get_agent(ref, tenant=tenant).id
    except NotFound as exc:
        raise NotFound(f"no agent named {ref!r} (list_agents shows them)") from exc


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


def _invalid(exc: ValidationError) -> str:
    return "invalid arguments: " + "; ".join(
        f"{'.'.join(str(p) for p in e['loc']) or 'arguments'}: {e['msg']}" for e in exc.errors()
    )


# -- the server -------------------------------------------------------------------------------


def build(runtime: Runtime, tenant_of: TenantOf) -> Server[Any]:
    """The MCP server over `runtime`; `tenant_of` names the caller's tenant for each call."""
    listed = [
        types.Tool(
            name=tool.name,
            description=tool.description,
            input_schema=tool.args.model_json_schema(),
            annotations=types.ToolAnnotations(read_only_hint=tool.read_only),
        )
        for tool in TOOLS.values()
    ]

    async def list_tools(
        _ctx: ServerRequestContext[Any, Any], _params: types.PaginatedRequestParams | None
    ) -> types.ListToolsResult:
        return types.ListToolsResult(tools=listed)

    async def call_tool(
        ctx: ServerRequestContext[Any, Any], params: types.CallToolRequestParams
    ) -> types.CallToolResult:
        tool = TOOLS.get(params.name)
        if tool is None:
            return _result(f"no tool named {params.name!r}; the tools are {', '.join(TOOLS)}", True)
        try:
            args = tool.args.model_validate(params.arguments or {})
        except ValidationError as exc:
            return _result(_invalid(exc), True)
        try:
            tenant = tenant_of(ctx)
            # A turn or a search blocks: off the event loop, and waited for even if cancelled.
            text = await anyio.to_thread.run_sync(tool.run, runtime, tenant, args)
        except RecalldError as exc:
            return _result(exc.message, True)
        except Exception:
            log.exception("MCP tool %s failed", tool.name)
            return _result("internal error (the server's log has the details)", True)
        return _result(text, False)

    return Server(
        "recalld",
        version=_version(),
        instructions=INSTRUCTIONS,
        on_list_tools=list_tools,
        on_call_tool=call_tool,
    )


def _result(text: str, is_error: bool) -> types.CallToolResult:
    return types.CallToolResult(
        content=[types.TextContent(type="text", text=text)], is_error=is_error
    )


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("recalld")
    except PackageNotFoundError:
        return "0.0.0"


async def serve_stdio(runtime: Runtime, tenant: str) -> None:
    """Talk MCP on stdin and stdout until the client closes stdin."""
    server = build(runtime, lambda _ctx: tenant)
    async with stdio_server() as (read, write):
        await server.run(read, write, server.create_initialization_options())


class HttpEndpoint:
    """The ASGI app at /mcp: the caller's tenant from its key, then the SDK's streamable HTTP
    transport. `serving` runs the transport's task group inside the app's lifespan."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._manager: StreamableHTTPSessionManager | None = None
        self._auth: Auth | None = None

    @contextlib.asynccontextmanager
    async def serving(self, runtime: Runtime, auth: Auth) -> AsyncIterator[None]:
        manager = StreamableHTTPSessionManager(
            build(runtime, _scope_tenant),
            stateless=True,
            json_response=True,
            max_request_body_size=self.settings.max_body_bytes,
        )
        async with manager.run():
            self._manager, self._auth = manager, auth
            try:
                yield
            finally:
                self._manager = self._auth = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        manager, auth = self._manager, self._auth
        try:
            if manager is None or auth is None:
                raise RecalldError("the MCP endpoint is not running")
            # Off the event loop: finding the tenant may ask the database (keys.KeyLookup).
            tenant = await run_in_threadpool(_caller, auth, request)
        except Exception as exc:
            await error_response(request, exc)(scope, receive, send)
            return
        state = {**scope.get("state", {}), TENANT: tenant}
        await manager.handle_request({**scope, "state": state}, receive, send)


def _caller(auth: Auth, request: Request) -> str:
    tenant = auth.tenant(request)
    if not auth.keys_configured() and not _local_page(request):
        raise Forbidden("with no API key configured, /mcp serves loopback hosts and origins only")
    return tenant


def _local_page(request: Request) -> bool:
    """Host and Origin (if any) both name this machine: not a page that rebound a name to it."""
    origin = request.headers.get("origin")
    names: Sequence[str | None] = [
        urlsplit(f"//{request.headers.get('host', '')}").hostname,
        *([urlsplit(origin).hostname] if origin else []),
    ]
    return all(is_loopback(name) for name in names)


def _scope_tenant(ctx: ServerRequestContext[Any, Any]) -> str:
    request = ctx.request
    tenant = request.scope.get("state", {}).get(TENANT) if isinstance(request, Request) else None
    if not isinstance(tenant, str):
        raise Unauthorized("no tenant for this MCP request")
    return tenant
