"""A typed Python client for the recalld REST API (httpx). The CLI is built on it.

from cli.client import RecalldClient
with RecalldClient("http://127.0.0.1:8300") as api:
    agent = api.create_agent(name="helper")
    turn = api.send(agent["id"], "My name is Ada")
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx

DEFAULT_URL = "http://127.0.0.1:8300"
JSON = dict[str, Any]


class ApiError(Exception):
    """The server answered with an error (or could not be reached: status 0)."""

    def __init__(self, status: int, code: str, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.field = field

    def __str__(self) -> str:
        where = f" ({self.field})" if self.field else ""
        return f"{self.message}{where}"


@dataclass(frozen=True)
class Event:
    """One Server-Sent Event of a streamed turn or a job's progress."""

    kind: str
    data: JSON
    id: str | None = None


class RecalldClient:
    def __init__(
        self,
        url: str = DEFAULT_URL,
        api_key: str | None = None,
        timeout: float = 300.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self.url = url.rstrip("/")
        self.jobs = JobsClient(self)
        self._http = httpx.Client(
            base_url=self.url, headers=headers, timeout=timeout, transport=transport
        )

    def __enter__(self) -> RecalldClient:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    # -- plumbing ---------------------------------------------------------------------------

    def _request(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.TransportError as exc:
            raise ApiError(
                0, "unreachable", f"cannot reach the recalld server at {self.url} ({exc})"
            ) from exc
        return _result(response)

    @staticmethod
    def _params(**values: Any) -> dict[str, Any]:
        out = {}
        for key, value in values.items():
            if value is None or value == [] or value == ():
                continue
            out[key] = ",".join(value) if isinstance(value, list | tuple) else value
        return out

    # -- agents -----------------------------------------------------------------------------

    def health(self) -> JSON:
        return self._request("GET", "/v1/health")

    def create_agent(self, name: str, **fields: Any) -> JSON:
        body = {"name": name, **{k: v for k, v in fields.items() if v is not None}}
        return self._request("POST", "/v1/agents", json=body)

    def list_agents(
        self, limit: int = 100, after: str | None = None, name: str | None = None
    ) -> JSON:
        return self._request(
            "GET", "/v1/agents", params=self._params(limit=limit, after=after, name=name)
        )

    def agent(self, agent_id: str) -> JSON:
        return self._request("GET", f"/v1/agents/{agent_id}")

    def find_agent(self, id_or_name: str) -> JSON:
        """An agent by id, or by name if no id matches."""
        if id_or_name.startswith("agent-"):
            return self.agent(id_or_name)
        found = self.list_agents(name=id_or_name, limit=2)["data"]
        if not found:
            raise ApiError(404, "not_found", f"no agent named {id_or_name!r}")
        return found[0]

    def update_agent(self, agent_id: str, **fields: Any) -> JSON:
        return self._request("PATCH", f"/v1/agents/{agent_id}", json=fields)

    def delete_agent(self, agent_id: str) -> None:
        self._request("DELETE", f"/v1/agents/{agent_id}")

    # -- messages ---------------------------------------------------------------------------

    def send(
        self, agent_id: str, content: str, role: str = "user", max_steps: int | None = None
    ) -> JSON:
        body: JSON = {"messages": [{"role": role, "content": content}]}
        if max_steps:
            body["max_steps"] = max_steps
        return self._request("POST", f"/v1/agents/{agent_id}/messages", json=body)

    def stream(self, agent_id: str, content: str, role: str = "user") -> Iterator[Event]:
        body = {"messages": [{"role": role, "content": content}]}
        yield from self._events("POST", f"/v1/agents/{agent_id}/messages/stream", json=body)

    def _events(self, method: str, path: str, **kwargs: Any) -> Iterator[Event]:
        try:
            with self._http.stream(method, path, **kwargs) as response:
                if response.status_code >= 400:
                    response.read()
                    _result(response)
                yield from parse_sse(response.iter_lines())
        except httpx.TransportError as exc:
            raise ApiError(
                0, "unreachable", f"cannot reach the recalld server at {self.url} ({exc})"
            ) from exc

    def export_agent(self, agent_id: str) -> Iterator[bytes]:
        """The agent's document, in pieces as the server streams it."""
        try:
            with self._http.stream("GET", f"/v1/agents/{agent_id}/export") as response:
                if response.status_code >= 400:
                    response.read()
                    _result(response)
                yield from response.iter_bytes()
        except httpx.TransportError as exc:
            raise ApiError(
                0, "unreachable", f"cannot reach the recalld server at {self.url} ({exc})"
            ) from exc

    def import_agent(self, document: Any, name: str | None = None, letta: bool = False) -> JSON:
        """Create an agent from a recalld export, or with `letta` from a Letta agent file."""
        path = "/v1/agents/import/letta" if letta else "/v1/agents/import"
        return self._request("POST", path, json=document, params=self._params(name=name))

    def import_mem0(self, export: Any) -> JSON:
        """A Mem0 memory export (`{"results": [...]}` or a bare list) as facts."""
        body = {"results": export} if isinstance(export, list) else export
        return self._request("POST", "/v1/memories/import", json=body)

    def messages(self, agent_id: str, limit: int = 50, before: int | None = None) -> JSON:
        return self._request(
            "GET",
            f"/v1/agents/{agent_id}/messages",
            params=self._params(limit=limit, before=before),
        )

    # -- memory -----------------------------------------------------------------------------

    def blocks(self, agent_id: str) -> JSON:
        return self._request("GET", f"/v1/agents/{agent_id}/blocks")

    def block(self, agent_id: str, label: str) -> JSON:
        return self._request("GET", f"/v1/agents/{agent_id}/blocks/{label}")

    def edit_block(self, agent_id: str, label: str, **fields: Any) -> JSON:
        return self._request("PATCH", f"/v1/agents/{agent_id}/blocks/{label}", json=fields)

    def block_history(
        self, agent_id: str, label: str, limit: int = 50, before: int | None = None
    ) -> JSON:
        return self._request(
            "GET",
            f"/v1/agents/{agent_id}/blocks/{label}/history",
            params=self._params(limit=limit, before=before),
        )

    def restore_block(self, agent_id: str, label: str, version: int) -> JSON:
        return self._request(
            "POST", f"/v1/agents/{agent_id}/blocks/{label}/restore", json={"version": version}
        )

    def memory_as_of(self, agent_id: str, as_of: str) -> JSON:
        return self._request(
            "GET", f"/v1/agents/{agent_id}/memory", params=self._params(as_of=as_of)
        )

    def context(self, agent_id: str) -> JSON:
        return self._request("GET", f"/v1/agents/{agent_id}/context")

    def insert_passage(
        self, agent_id: str, text: str, tags: list[str] | None = None, created_at: str | None = None
    ) -> JSON:
        body: JSON = {"text": text, "tags": tags or []}
        if created_at:
            body["created_at"] = created_at
        return self._request("POST", f"/v1/agents/{agent_id}/archival", json=body)

    def doctor(self, agent_id: str | None = None, repair: bool = False) -> JSON:
        """Compare rows with the vector index: one agent's, or all of the caller's tenant's."""
        path = f"/v1/agents/{agent_id}/doctor" if agent_id else "/v1/doctor"
        return self._request("POST", path, json={"repair": repair})

    def search_archival(
        self,
        agent_id: str,
        query: str,
        tags: list[str] | None = None,
        start: str | None = None,
        end: str | None = None,
        limit: int = 10,
    ) -> JSON:
        return self._request(
            "GET",
            f"/v1/agents/{agent_id}/archival",
            params=self._params(query=query, tags=tags, start=start, end=end, limit=limit),
        )

    def search_recall(
        self, agent_id: str, query: str, roles: list[str] | None = None, limit: int = 10
    ) -> JSON:
        return self._request(
            "GET",
            f"/v1/agents/{agent_id}/recall",
            params=self._params(query=query, roles=roles, limit=limit),
        )

    # -- fact memory ------------------------------------------------------------------------

    @staticmethod
    def _given(**values: Any) -> JSON:
        """The fields of a JSON body that were given (None is left out)."""
        return {k: v for k, v in values.items() if v is not None}

    def add_memories(
        self,
        facts: list[JSON],
        *,
        user_id: str | None = None,
        agent_id: str | None = None,
        run_id: str | None = None,
        metadata: JSON | None = None,
    ) -> JSON:
        """Write facts (statements or slots); the answer says what each one changed."""
        body = {
            "facts": facts,
            **self._given(user_id=user_id, agent_id=agent_id, run_id=run_id, metadata=metadata),
        }
        return self._request("POST", "/v1/memories", json=body)

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
    ) -> JSON:
        body = self._given(
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
        return self._request("POST", "/v1/memories/search", json=body)

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
    ) -> JSON:
        """One page of facts in id order; its `next` is the `after` of the page that follows."""
        params = self._params(
            user_id=user_id,
            agent_id=agent_id,
            run_id=run_id,
            kind=kind,
            subject=subject,
            attribute=attribute,
            as_of=as_of,
            include_history="true" if include_history else None,
            limit=limit,
            after=after,
        )
        return self._request("GET", "/v1/memories", params=params)

    def memory(self, fact_id: int) -> JSON:
        return self._request("GET", f"/v1/memories/{fact_id}")

    def edit_memory(self, fact_id: int, **fields: Any) -> JSON:
        """Correct text, value, kind, metadata or expires_at (None: never expires) in place."""
        return self._request("PATCH", f"/v1/memories/{fact_id}", json=fields)

    def delete_memory(self, fact_id: int, purge: bool = False) -> JSON:
        """Retire a fact, or with `purge` erase it; the answer says what was erased."""
        params = {"purge": "true"} if purge else {}
        return self._request("DELETE", f"/v1/memories/{fact_id}", params=params)

    def memory_history(self, fact_id: int) -> JSON:
        return self._request("GET", f"/v1/memories/{fact_id}/history")


class JobsClient:
    """`RecalldClient.jobs`: submit, read, list, cancel and watch jobs."""

    def __init__(self, client: RecalldClient) -> None:
        self._client = client

    def submit(
        self,
        agent_id: str,
        goal: str,
        max_steps: int | None = None,
        max_duration: str | None = None,
        schedule: str | None = None,
    ) -> JSON:
        body = {
            "goal": goal,
            "max_steps": max_steps,
            "max_duration": max_duration,
            "schedule": schedule,
        }
        return self._client._request(
            "POST",
            f"/v1/agents/{agent_id}/jobs",
            json={k: v for k, v in body.items() if v is not None},
        )

    def get(self, job_id: str) -> JSON:
        return self._client._request("GET", f"/v1/jobs/{job_id}")

    def list(
        self, agent_id: str | None = None, status: str | None = None, limit: int = 100
    ) -> JSON:
        return self._client._request(
            "GET",
            "/v1/jobs",
            params=self._client._params(agent_id=agent_id, status=status, limit=limit),
        )

    def cancel(self, job_id: str) -> JSON:
        return self._client._request("POST", f"/v1/jobs/{job_id}/cancel")

    def events(self, job_id: str, last_event_id: str | None = None) -> Iterator[Event]:
        headers = {"Last-Event-ID": last_event_id} if last_event_id else {}
        yield from self._client._events("GET", f"/v1/jobs/{job_id}/events", headers=headers)


def _result(response: httpx.Response) -> Any:
    if response.status_code == 204:
        return None
    try:
        body = response.json()
    except ValueError:
        body = None
    if response.status_code >= 400:
        error = (body or {}).get("error", {}) if isinstance(body, dict) else {}
        raise ApiError(
            response.status_code,
            error.get("code", "http_error"),
            error.get("message", response.text[:200] or response.reason_phrase),
            error.get("field"),
        )
    return body


def parse_sse(lines: Iterator[str]) -> Iterator[Event]:
    kind, event_id = "message", None
    data: list[str] = []
    for line in lines:
        if not line:
            if data:
                yield Event(kind, json.loads("\n".join(data)), event_id)
            kind, event_id, data = "message", None, []
        elif line.startswith("event:"):
            kind = line[6:].strip()
        elif line.startswith("id:"):
            event_id = line[3:].strip()
        elif line.startswith("data:"):
            data.append(line[5:].strip())
    if data:
        yield Event(kind, json.loads("\n".join(data)), event_id)
