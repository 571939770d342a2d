"""The operations of the recalld REST API, each written once as the request it sends.

`Api` holds the agents, messages, core memory, archival, recall, fact memory and transfer
operations; `JobsApi` and `KeysApi` the two namespaces `client.jobs` and `client.keys`. A method
here builds a `Call` or a `Stream`; `recalld.calls` explains how `Client` and `AsyncClient` run
them. Answers are the server's JSON objects as sent (see `/openapi.json` for their shapes).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from recalld.calls import (
    JSON,
    Call,
    Chunks,
    Event,
    SSEDecoder,
    Stream,
    call,
    endpoint,
    given,
    nothing,
    query_params,
    streaming,
)
from recalld.errors import NotFoundError


def _first(name: str) -> Any:
    def read(page: Any) -> JSON:
        if not page["data"]:
            raise NotFoundError(404, "not_found", f"no agent named {name!r}")
        found: JSON = page["data"][0]
        return found

    return read


def _turn(content: str, role: str, max_steps: int | None, user_id: str | None) -> JSON:
    return {
        "messages": [{"role": role, "content": content}],
        **given(max_steps=max_steps, user_id=user_id),
    }


class Api:
    """Every operation but jobs and keys (see the module docstring)."""

    @endpoint
    def request(
        self,
        method: str,
        path: str,
        *,
        params: JSON | None = None,
        json: Any = None,
        headers: dict[str, str] | None = None,
    ) -> Call[Any]:
        """Any route, for what has no method of its own: the decoded answer (None for a 204)."""
        return Call(method, path, lambda body: body, params or {}, json, headers or {})

    @endpoint
    def health(self) -> Call[JSON]:
        return call("GET", "/v1/health")

    # -- agents ---------------------------------------------------------------------------------

    @endpoint
    def create_agent(self, /, name: str, **fields: Any) -> Call[JSON]:
        """Create an agent; `fields` are the other fields of `POST /v1/agents` (model, system,
        persona, human, blocks, memory, ...), None left out."""
        return call("POST", "/v1/agents", json={"name": name, **given(**fields)})

    @endpoint
    def list_agents(
        self, limit: int = 100, after: str | None = None, name: str | None = None
    ) -> Call[JSON]:
        """One page of agents (`data`, `next`: the `after` of the next page)."""
        return call("GET", "/v1/agents", params=query_params(limit=limit, after=after, name=name))

    @endpoint
    def get_agent(self, agent_id: str) -> Call[JSON]:
        return call("GET", f"/v1/agents/{agent_id}")

    @endpoint
    def find_agent(self, id_or_name: str) -> Call[JSON]:
        """An agent by id (`agent-...`), else by name; NotFoundError if there is none."""
        if id_or_name.startswith("agent-"):
            return call("GET", f"/v1/agents/{id_or_name}")
        params = query_params(name=id_or_name, limit=1)
        return Call("GET", "/v1/agents", _first(id_or_name), params)

    @endpoint
    def update_agent(self, /, agent_id: str, **fields: Any) -> Call[JSON]:
        """Change the given fields (name, model, system, max_steps, memory_ttl, ...)."""
        return call("PATCH", f"/v1/agents/{agent_id}", json=fields)

    @endpoint
    def delete_agent(self, agent_id: str) -> Call[None]:
        return Call("DELETE", f"/v1/agents/{agent_id}", nothing)

    @streaming
    def export_agent(self, agent_id: str) -> Stream[bytes]:
        """The agent's JSON document, in pieces as the server streams it."""
        return Stream("GET", f"/v1/agents/{agent_id}/export", Chunks)

    @endpoint
    def import_agent(
        self, document: Any, name: str | None = None, letta: bool = False
    ) -> Call[JSON]:
        """Create an agent from a recalld export, or with `letta` from a Letta agent file."""
        path = "/v1/agents/import/letta" if letta else "/v1/agents/import"
        return call("POST", path, json=document, params=query_params(name=name))

    # -- messages -------------------------------------------------------------------------------

    @endpoint
    def send(
        self,
        agent_id: str,
        content: str,
        role: str = "user",
        *,
        max_steps: int | None = None,
        user_id: str | None = None,
        idempotency_key: str | None = None,
    ) -> Call[JSON]:
        """Run a turn: the messages it produced, its stop reason and usage. With an
        `idempotency_key` a retried request replays the turn instead of running it again."""
        return call(
            "POST",
            f"/v1/agents/{agent_id}/messages",
            json=_turn(content, role, max_steps, user_id),
            headers=given(**{"Idempotency-Key": idempotency_key}),
        )

    @streaming
    def stream(
        self,
        agent_id: str,
        content: str,
        role: str = "user",
        *,
        max_steps: int | None = None,
        user_id: str | None = None,
        idempotency_key: str | None = None,
        tokens: bool = False,
    ) -> Stream[Event]:
        """Run a turn, its steps as `Event`s while it runs (ending with `done` or `error`).
        With `tokens`, also the model's pieces as it makes them: `assistant_delta` (text),
        `tool_call_delta`, and `delta_reset` when a retry voids a step's pieces."""
        body = _turn(content, role, max_steps, user_id) | ({"tokens": True} if tokens else {})
        return Stream(
            "POST",
            f"/v1/agents/{agent_id}/messages/stream",
            SSEDecoder,
            json=body,
            headers=given(**{"Idempotency-Key": idempotency_key}),
        )

    @endpoint
    def list_messages(
        self,
        agent_id: str,
        limit: int = 50,
        before: int | None = None,
        after: int | None = None,
    ) -> Call[JSON]:
        return call(
            "GET",
            f"/v1/agents/{agent_id}/messages",
            params=query_params(limit=limit, before=before, after=after),
        )

    # -- core memory ----------------------------------------------------------------------------

    @endpoint
    def list_blocks(self, agent_id: str) -> Call[JSON]:
        return call("GET", f"/v1/agents/{agent_id}/blocks")

    @endpoint
    def get_block(self, agent_id: str, label: str) -> Call[JSON]:
        return call("GET", f"/v1/agents/{agent_id}/blocks/{label}")

    @endpoint
    def edit_block(self, /, agent_id: str, label: str, **fields: Any) -> Call[JSON]:
        """Change value, limit, description or read_only; a new version in its history."""
        return call("PATCH", f"/v1/agents/{agent_id}/blocks/{label}", json=fields)

    @endpoint
    def block_history(
        self, agent_id: str, label: str, limit: int = 50, before: int | None = None
    ) -> Call[JSON]:
        return call(
            "GET",
            f"/v1/agents/{agent_id}/blocks/{label}/history",
            params=query_params(limit=limit, before=before),
        )

    @endpoint
    def restore_block(self, agent_id: str, label: str, version: int) -> Call[JSON]:
        """Bring back an earlier version's value, as a new version."""
        return call(
            "POST", f"/v1/agents/{agent_id}/blocks/{label}/restore", json={"version": version}
        )

    @endpoint
    def memory_as_of(self, agent_id: str, as_of: str) -> Call[JSON]:
        """The agent's blocks as they stood at an ISO time."""
        return call("GET", f"/v1/agents/{agent_id}/memory", params=query_params(as_of=as_of))

    @endpoint
    def context(self, agent_id: str) -> Call[JSON]:
        """What fills the agent's context window, in tokens, and its system prompt."""
        return call("GET", f"/v1/agents/{agent_id}/context")

    @endpoint
    def doctor(self, agent_id: str | None = None, repair: bool = False) -> Call[JSON]:
        """Compare rows with the vector index: one agent's, or all of the caller's tenant's."""
        path = f"/v1/agents/{agent_id}/doctor" if agent_id else "/v1/doctor"
        return call("POST", path, json={"repair": repair})

    # -- archival and recall --------------------------------------------------------------------

    @endpoint
    def insert_passage(
        self,
        agent_id: str,
        text: str,
        tags: list[str] | None = None,
        created_at: str | None = None,
        *,
        ttl_days: int | None = None,
        expires_at: str | None = None,
    ) -> Call[JSON]:
        body = {"text": text, "tags": tags or []}
        body |= given(created_at=created_at, ttl_days=ttl_days, expires_at=expires_at)
        return call("POST", f"/v1/agents/{agent_id}/archival", json=body)

    @endpoint
    def search_archival(
        self,
        agent_id: str,
        query: str,
        tags: list[str] | None = None,
        start: str | None = None,
        end: str | None = None,
        limit: int = 10,
    ) -> Call[JSON]:
        """Hybrid search of the agent's passages, filtered by tags and time."""
        params = query_params(query=query, tags=tags, start=start, end=end, limit=limit)
        return call("GET", f"/v1/agents/{agent_id}/archival", params=params)

    @endpoint
    def list_archival(
        self,
        agent_id: str,
        tags: list[str] | None = None,
        limit: int = 50,
        after: int | None = None,
    ) -> Call[JSON]:
        """The agent's passages in id order, without a query."""
        params = query_params(tags=tags, limit=limit, after=after)
        return call("GET", f"/v1/agents/{agent_id}/archival", params=params)

    @endpoint
    def delete_passage(self, agent_id: str, passage_id: int) -> Call[None]:
        return Call("DELETE", f"/v1/agents/{agent_id}/archival/{passage_id}", nothing)

    @endpoint
    def search_recall(
        self, agent_id: str, query: str, roles: list[str] | None = None, limit: int = 10
    ) -> Call[JSON]:
        """Search everything said to and by the agent, evicted or not."""
        params = query_params(query=query, roles=roles, limit=limit)
        return call("GET", f"/v1/agents/{agent_id}/recall", params=params)

    @endpoint
    def import_history(self, agent_id: str, messages: list[JSON]) -> Call[JSON]:
        """Add earlier conversation (role, content, created_at) to the agent's recall."""
        return call("POST", f"/v1/agents/{agent_id}/recall", json={"messages": messages})

    # -- fact memory ----------------------------------------------------------------------------

    @endpoint
    def add_memories(
        self,
        facts: list[JSON] | None = None,
        *,
        messages: list[JSON] | None = None,
        user_id: str | None = None,
        agent_id: str | None = None,
        run_id: str | None = None,
        metadata: JSON | None = None,
        infer: bool | None = None,
        wait: bool | None = None,
        model: str | None = None,
    ) -> Call[JSON]:
        """Write facts (statements `{"text"}` or slots `{"subject", "attribute", "value"}`) and
        say what each changed; or learn facts from `messages` (`infer=False`: each message as a
        fact): queued, answered with an ingestion (`status`, `id`) unless `wait=True`."""
        body = given(
            facts=facts,
            messages=messages,
            user_id=user_id,
            agent_id=agent_id,
            run_id=run_id,
            metadata=metadata,
            infer=infer,
            wait=wait,
            model=model,
        )
        return call("POST", "/v1/memories", json=body)

    @endpoint
    def get_ingestion(self, ingestion_id: str) -> Call[JSON]:
        """How a queued `add_memories(messages=...)` stands."""
        return call("GET", f"/v1/memories/ingestions/{ingestion_id}")

    @endpoint
    def search_memories(
        self,
        query: str,
        *,
        user_id: str | None = None,
        agent_id: str | None = None,
        run_id: str | None = None,
        filters: JSON | None = None,
        as_of: str | None = None,
        include_history: bool = False,
        limit: int = 10,
        threshold: float | None = None,
    ) -> Call[JSON]:
        body = given(
            query=query,
            user_id=user_id,
            agent_id=agent_id,
            run_id=run_id,
            filters=filters or None,
            as_of=as_of,
            include_history=include_history,
            limit=limit,
            threshold=threshold,
        )
        return call("POST", "/v1/memories/search", json=body)

    @endpoint
    def list_memories(
        self,
        *,
        user_id: str | None = None,
        agent_id: str | None = None,
        run_id: str | None = None,
        kind: str | None = None,
        subject: str | None = None,
        attribute: str | None = None,
        as_of: str | None = None,
        include_history: bool = False,
        limit: int = 50,
        after: int | None = None,
    ) -> Call[JSON]:
        """One page of facts in id order; its `next` is the `after` of the page that follows."""
        params = query_params(
            user_id=user_id,
            agent_id=agent_id,
            run_id=run_id,
            kind=kind,
            subject=subject,
            attribute=attribute,
            as_of=as_of,
            include_history=include_history or None,
            limit=limit,
            after=after,
        )
        return call("GET", "/v1/memories", params=params)

    @endpoint
    def get_memory(self, fact_id: int) -> Call[JSON]:
        return call("GET", f"/v1/memories/{fact_id}")

    @endpoint
    def edit_memory(self, /, fact_id: int, **fields: Any) -> Call[JSON]:
        """Correct text, value, kind, metadata or expires_at (None: never expires) in place."""
        return call("PATCH", f"/v1/memories/{fact_id}", json=fields)

    @endpoint
    def delete_memory(self, fact_id: int, purge: bool = False) -> Call[JSON]:
        """Retire a fact, or with `purge` erase it; the answer says what was erased."""
        return call("DELETE", f"/v1/memories/{fact_id}", params=query_params(purge=purge or None))

    @endpoint
    def memory_history(self, fact_id: int) -> Call[JSON]:
        return call("GET", f"/v1/memories/{fact_id}/history")

    @endpoint
    def import_mem0(self, export: Any) -> Call[JSON]:
        """A Mem0 memory export (`{"results": [...]}` or a bare list) as facts."""
        body = {"results": export} if isinstance(export, list) else export
        return call("POST", "/v1/memories/import", json=body)


class JobsApi:
    """`client.jobs`: submit, read, list, cancel and watch an agent's background jobs."""

    @endpoint
    def submit(
        self,
        agent_id: str,
        goal: str,
        max_steps: int | None = None,
        max_duration: str | None = None,
        schedule: str | None = None,
    ) -> Call[JSON]:
        body = given(goal=goal, max_steps=max_steps, max_duration=max_duration, schedule=schedule)
        return call("POST", f"/v1/agents/{agent_id}/jobs", json=body)

    @endpoint
    def get(self, job_id: str) -> Call[JSON]:
        return call("GET", f"/v1/jobs/{job_id}")

    @endpoint
    def list(
        self, agent_id: str | None = None, status: str | None = None, limit: int = 100
    ) -> Call[JSON]:
        return call(
            "GET", "/v1/jobs", params=query_params(agent_id=agent_id, status=status, limit=limit)
        )

    @endpoint
    def cancel(self, job_id: str) -> Call[JSON]:
        return call("POST", f"/v1/jobs/{job_id}/cancel")

    @streaming
    def events(self, job_id: str, last_event_id: str | None = None) -> Stream[Event]:
        """The job's progress as `Event`s, from after `last_event_id`, until it ends."""
        headers = given(**{"Last-Event-ID": last_event_id})
        return Stream("GET", f"/v1/jobs/{job_id}/events", SSEDecoder, headers=headers)


class KeysApi:
    """`client.keys`: an admin key makes, lists and revokes its own tenant's API keys."""

    @endpoint
    def create(
        self, role: str = "member", name: str | None = None, tenant: str | None = None
    ) -> Call[JSON]:
        """A new key; its `key` (the secret) is shown in this answer only."""
        return call("POST", "/v1/keys", json=given(role=role, name=name, tenant=tenant))

    @endpoint
    def list(self) -> Call[JSON]:
        return call("GET", "/v1/keys")

    @endpoint
    def revoke(self, key_id: int) -> Call[JSON]:
        return call("DELETE", f"/v1/keys/{key_id}")


class ToolsApi:
    """`client.tools`: the tenant's custom tools (HTTP endpoints, and the tools of its MCP
    servers), and which agents may call them. A tool or server is named by its id or name."""

    @endpoint
    def create(
        self,
        name: str,
        url: str,
        parameters: JSON,
        description: str = "",
        method: str = "POST",
        headers: dict[str, str] | None = None,
    ) -> Call[JSON]:
        """A new tool; header values may name server secrets as `${secret:NAME}`."""
        body = given(
            name=name,
            url=url,
            parameters=parameters,
            description=description,
            method=method,
            headers=headers,
        )
        return call("POST", "/v1/tools", json=body)

    @endpoint
    def list(self) -> Call[JSON]:
        return call("GET", "/v1/tools")

    @endpoint
    def get(self, tool: str) -> Call[JSON]:
        return call("GET", f"/v1/tools/{tool}")

    @endpoint
    def edit(self, /, tool: str, **fields: Any) -> Call[JSON]:
        return call("PATCH", f"/v1/tools/{tool}", json=fields)

    @endpoint
    def delete(self, tool: str) -> Call[None]:
        """Delete the tool, detaching it from every agent."""
        return Call("DELETE", f"/v1/tools/{tool}", nothing)

    @endpoint
    def attach(self, agent_id: str, tool: str) -> Call[JSON]:
        return call("POST", f"/v1/agents/{agent_id}/tools/{tool}")

    @endpoint
    def detach(self, agent_id: str, tool: str) -> Call[None]:
        return Call("DELETE", f"/v1/agents/{agent_id}/tools/{tool}", nothing)

    @endpoint
    def add_mcp_server(
        self,
        name: str,
        url: str | None = None,
        transport: str = "http",
        headers: dict[str, str] | None = None,
        command: Sequence[str] | None = None,
    ) -> Call[JSON]:
        """Register an MCP server; its tools become tools named `NAME__TOOL` (in `tools`)."""
        parts = None if command is None else [*command]
        body = given(name=name, url=url, transport=transport, headers=headers, command=parts)
        return call("POST", "/v1/mcp-servers", json=body)

    @endpoint
    def mcp_servers(self) -> Call[JSON]:
        return call("GET", "/v1/mcp-servers")

    @endpoint
    def mcp_server(self, server: str) -> Call[JSON]:
        return call("GET", f"/v1/mcp-servers/{server}")

    @endpoint
    def refresh_mcp_server(self, server: str) -> Call[JSON]:
        """List the server's tools again: new ones added, gone ones removed and detached."""
        return call("POST", f"/v1/mcp-servers/{server}/refresh")

    @endpoint
    def delete_mcp_server(self, server: str) -> Call[None]:
        return Call("DELETE", f"/v1/mcp-servers/{server}", nothing)
