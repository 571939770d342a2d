"""The operations of the recalld REST API, each written once as the request it sends.

`Api` holds the agents, messages, core memory, archival, recall and transfer operations, and
(from `recalld.memories`) the fact memory ones; `recalld.namespaces` holds `client.jobs`,
`client.keys` and `client.tools`. A method here builds a `Call` or a `Stream`; `recalld.calls`
explains how `Client` and `AsyncClient` run them. Answers are the server's JSON objects as sent
(see `/openapi.json` for their shapes).
"""

from __future__ import annotations

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
from recalld.memories import MemoriesApi


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


class Api(MemoriesApi):
    """Every operation but jobs, keys and tools (see the module docstring)."""

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
