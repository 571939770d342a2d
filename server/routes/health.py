"""/v1/health and /openapi.json."""

from __future__ import annotations

import asyncio

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.schemas import SchemaGenerator

SCHEMAS = SchemaGenerator({"openapi": "3.0.0", "info": {"title": "recalld", "version": "0.1.0"}})


async def health(request: Request) -> Response:
    """
    ---
    summary: Liveness and what the server runs on
    responses:
      200: {description: ok}
    """
    runtime = request.app.state.runtime
    indexer = await asyncio.to_thread(runtime.services.indexer.status)
    return JSONResponse(
        {
            # degraded: the background indexer is failing and rows are waiting for their vectors
            "status": "degraded" if indexer["last_error"] and indexer["pending_rows"] else "ok",
            "database": runtime.engine.dialect.name,
            "default_model": runtime.settings.default_model,
            "auth": "api_keys" if request.app.state.auth.keys_configured() else "loopback_only",
            "indexer": indexer,
        }
    )


async def openapi(request: Request) -> Response:
    """
    ---
    summary: This document
    responses:
      200: {description: OpenAPI 3 document}
    """
    return JSONResponse(SCHEMAS.get_schema(routes=request.app.routes))


routes = [
    Route("/v1/health", health, methods=["GET"]),
    Route("/openapi.json", openapi, methods=["GET"], include_in_schema=False),
]
