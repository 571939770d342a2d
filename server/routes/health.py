"""/v1/health: up or degraded for anyone; what the server runs on, and its indexer's figures, for
a tenant (its own agents) or the operator (every tenant)."""

from __future__ import annotations

import asyncio

from server.api import Call, Operation
from server.auth import Anonymous, Auth
from server.responses import HealthOut


async def health(call: Call) -> HealthOut:
    auth: Auth = call.request.app.state.auth
    scope = await asyncio.to_thread(auth.scope, call.request)
    if isinstance(scope, Anonymous):
        return HealthOut(status=await asyncio.to_thread(call.runtime.status))
    return HealthOut.model_validate(await asyncio.to_thread(call.runtime.health, tenant=scope))


operations = [
    Operation(
        "GET",
        "/v1/health",
        health,
        "Liveness, and the indexer's state for the caller",
        "status is ok, or degraded while indexing fails for everyone (the vector index or the "
        "default embedder is down). Without an API key (where keys are configured) that is all; "
        "with one, the indexer's figures cover the key's tenant only; the operator on loopback "
        "with no keys configured sees every tenant.",
        response=HealthOut,
        public=True,
    ),
]
