"""/v1/health: liveness, and what the server runs on."""

from __future__ import annotations

import asyncio

from server.api import Call, Operation
from server.responses import HealthOut


async def health(call: Call) -> HealthOut:
    runtime = call.runtime
    indexer = await asyncio.to_thread(runtime.services.indexer.status)
    keys = call.request.app.state.auth.keys_configured()
    return HealthOut(
        # degraded: the background indexer is failing and rows are waiting for their vectors
        status="degraded" if indexer["last_error"] and indexer["pending_rows"] else "ok",
        database=runtime.engine.dialect.name,
        default_model=runtime.settings.default_model,
        auth="api_keys" if keys else "loopback_only",
        indexer=indexer,
    )


operations = [
    Operation(
        "GET",
        "/v1/health",
        health,
        "Liveness and what the server runs on",
        "status is degraded while the background indexer fails, with its error.",
        response=HealthOut,
        public=True,
    ),
]
