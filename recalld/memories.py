"""The fact memory operations of the REST API (`/v1/memories`), part of `Api`."""

from __future__ import annotations

from typing import Any

from recalld.calls import (
    JSON,
    Call,
    call,
    endpoint,
    given,
    query_params,
)


class MemoriesApi:
    """Add, search, list, read, edit, delete and import facts; follow an ingestion."""

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
