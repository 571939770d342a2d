"""`create_app(settings)`: assembles the operations, the error handlers and the runtime's
lifespan, and serves the OpenAPI document built from the same operations."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from importlib.metadata import PackageNotFoundError, version

import anyio.to_thread
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from agent_runtime.core.settings import Settings
from agent_runtime.jobs.worker import WorkerPool
from agent_runtime.runtime import Runtime
from server import api, mcp_endpoint, openapi
from server.auth import Auth
from server.console import routes as console
from server.errors import HANDLERS
from server.routes import (
    agents,
    archival,
    blocks,
    health,
    history,
    indexing,
    jobs,
    keys,
    mcp_servers,
    memories,
    messages,
    openai_compat,
    recall,
    tools,
    transfer,
)

log = logging.getLogger("recalld.server")

OPERATIONS: list[api.Operation] = [
    *health.operations,
    *agents.operations,
    *messages.operations,
    *blocks.operations,
    *archival.operations,
    *recall.operations,
    *indexing.operations,
    *jobs.operations,
    *memories.operations,
    *history.operations,
    *transfer.operations,
    *openai_compat.operations,
    *keys.operations,
    *tools.operations,
    *mcp_servers.operations,
]


def create_app(
    settings: Settings,
    runtime: Runtime | None = None,
    workers: int | None = None,
    extraction: int | None = None,
) -> Starlette:
    """The ASGI app. Pass `runtime` to inject fakes; otherwise one is built at start-up.

    `workers` job worker threads and `extraction` fact extraction threads run beside the API
    (default: `settings.workers`, `settings.extraction_threads`)."""
    mcp = mcp_endpoint.HttpEndpoint(settings)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        # Turns run on this thread pool and hold a thread while their model answers.
        anyio.to_thread.current_default_thread_limiter().total_tokens = settings.request_threads
        rt = runtime if runtime is not None else await asyncio.to_thread(Runtime, settings)
        app.state.runtime = rt
        app.state.auth = Auth(rt)
        app.state.background = set()
        sweep = asyncio.ensure_future(asyncio.to_thread(rt.sweep))
        pool = WorkerPool(rt, settings.workers if workers is None else workers)
        pool.start()
        rt.pipeline.start(settings.extraction_threads if extraction is None else extraction)
        try:
            async with mcp.serving(rt, app.state.auth):
                yield
        finally:
            await asyncio.to_thread(rt.pipeline.stop)
            await asyncio.to_thread(pool.stop)
            await asyncio.gather(sweep, *app.state.background, return_exceptions=True)
            if runtime is None:
                rt.close()

    document = openapi.document(OPERATIONS, title="recalld", version=_version())

    async def openapi_json(_request: Request) -> JSONResponse:
        return JSONResponse(document)

    return Starlette(
        routes=[
            *api.routes(OPERATIONS, settings),
            Route("/openapi.json", openapi_json, methods=["GET"], include_in_schema=False),
            Route("/mcp", mcp, include_in_schema=False),  # the MCP endpoint answers any method
            *console.routes(),
        ],
        exception_handlers=HANDLERS,
        lifespan=lifespan,
    )


def _version() -> str:
    try:
        return version("recalld")
    except PackageNotFoundError:
        return "0.0.0"
