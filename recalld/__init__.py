"""recalld's Python client: `Client` (sync) and `AsyncClient` (async) for a recalld server.

    from recalld import Client

    client = Client("http://127.0.0.1:8300", api_key=None)  # what `recalld serve` listens on
    client.add_memories([{"text": "Ada is vegetarian"}], user_id="ada")
    hits = client.search_memories("What does Ada eat?", user_id="ada")["data"]
    agent = client.create_agent("helper", memory="auto")
    turn = client.send(agent["id"], "Suggest a dinner for me", user_id="ada")

`AsyncClient` has the same methods, awaited (`async with AsyncClient() as client: ...`), and
its streams (`stream`, `export_agent`, `jobs.events`) are async iterators.

How one API serves both: every operation is written once, in `recalld.api`, as a method that
builds a description of its request (`recalld.calls.Call`: method, path, query, body, headers,
and how to read the answer; or a `Stream` with a decoder of the streamed bytes). The `@endpoint`
and `@streaming` descriptors turn that method, when read from a client, into one that hands the
description to the client's runner: `SyncRunner` sends it with `httpx.Client` and returns the
result, `AsyncRunner` with `httpx.AsyncClient` as a coroutine (or an async iterator). The
descriptors' overloads give each client its own return types, so mypy sees `JSON` on one and
`Awaitable[JSON]` on the other.

Answers are the server's JSON objects as it sends them (`/openapi.json` documents each). Errors
are `RecalldAPIError`s carrying the server's `code`, `message`, `field` and HTTP `status`, one
subclass per kind of status (see `recalld.errors`).
"""

from __future__ import annotations

from recalld.aio import AsyncClient
from recalld.calls import JSON, Event
from recalld.client import DEFAULT_URL, Client
from recalld.errors import (
    ApiError,
    AuthenticationError,
    ConflictError,
    ConnectionError,
    InvalidRequestError,
    NotFoundError,
    PermissionDeniedError,
    ProviderError,
    RateLimitError,
    RecalldAPIError,
    ServerError,
)

__all__ = [
    "DEFAULT_URL",
    "JSON",
    "ApiError",
    "AsyncClient",
    "AuthenticationError",
    "Client",
    "ConflictError",
    "ConnectionError",
    "Event",
    "InvalidRequestError",
    "NotFoundError",
    "PermissionDeniedError",
    "ProviderError",
    "RateLimitError",
    "RecalldAPIError",
    "ServerError",
]
