"""`create_app(settings)`: assembles the routes, the error handlers and the runtime's lifespan."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from starlette.applications import Starlette

from agent_runtime.runtime import Runtime
from agent_runtime.settings import Settings
from agent_runtime.worker import WorkerPool
from server.auth import Auth
from server.errors import HANDLERS
from server.routes import agents, archival, blocks, health, jobs, messages, recall

log = logging.getLogger("recalld.server")


def create_app(
    settings: Settings, runtime: Runtime | None = None, workers: int | None = None
) -> Starlette:
    """The ASGI app. Pass `runtime` to inject fakes; otherwise one is built at start-up.

    `workers` job worker threads run beside the API (default: `settings.workers`)."""

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        rt = runtime if runtime is not None else await asyncio.to_thread(Runtime, settings)
        app.state.runtime = rt
        app.state.auth = Auth(rt)
        app.state.background = set()
        sweep = asyncio.ensure_future(asyncio.to_thread(rt.services.indexer.sweep))
        pool = WorkerPool(rt, settings.workers if workers is None else workers)
        pool.start()
        try:
            yield
        finally:
            await asyncio.to_thread(pool.stop)
            await asyncio.gather(sweep, *app.state.background, return_exceptions=True)
            if runtime is None:
                rt.close()

    return Starlette(
        routes=[
            *health.routes,
            *agents.routes,
            *messages.routes,
            *blocks.routes,
            *archival.routes,
            *recall.routes,
            *jobs.routes,
        ],
        exception_handlers=HANDLERS,  # type: ignore[arg-type]
        lifespan=lifespan,
    )
