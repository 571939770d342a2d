"""The namespaces of `Client` beside its own operations: `client.jobs`, `client.keys` and
`client.tools`, each written once as the requests it sends (as `recalld.api` is)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from recalld.calls import (
    JSON,
    Call,
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
