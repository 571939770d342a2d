"""The ASGI app at /mcp: the caller's tenant from its key, then the MCP SDK's streamable HTTP
transport (`server/mcp_server.py`).

The SDK and the MCP server are imported, and the transport's task group started, on the first
request to /mcp, not at start-up: most servers never serve MCP, and loading it cost every start
0.4 s and 28 MB (bench/startup.py)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import anyio
from anyio.abc import TaskGroup, TaskStatus
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.types import Receive, Scope, Send

from agent_runtime.core.errors import RecalldError
from agent_runtime.core.settings import Settings
from agent_runtime.runtime import Runtime
from server.auth import Auth
from server.errors import error_response

TENANT = "recalld.tenant"  # the key under which /mcp leaves the caller's tenant in the scope


class HttpEndpoint:
    """`serving` holds, inside the app's lifespan, the task group the transport runs in."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._tasks: TaskGroup | None = None
        self._runtime: Runtime | None = None
        self._auth: Auth | None = None
        self._manager: Any = None  # the SDK's StreamableHTTPSessionManager, once started
        self._starting = anyio.Lock()

    @contextlib.asynccontextmanager
    async def serving(self, runtime: Runtime, auth: Auth) -> AsyncIterator[None]:
        async with anyio.create_task_group() as tasks:
            self._tasks, self._runtime, self._auth = tasks, runtime, auth
            try:
                yield
            finally:
                self._tasks = self._runtime = self._auth = self._manager = None
                tasks.cancel_scope.cancel()  # stops the transport, if it was started

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        auth = self._auth
        try:
            if auth is None:
                raise RecalldError("the MCP endpoint is not running")
            # Off the event loop: finding the tenant may ask the database (keys.KeyLookup).
            tenant = await run_in_threadpool(auth.tenant, request)
            manager = await self._started()
        except Exception as exc:
            await error_response(request, exc)(scope, receive, send)
            return
        state = {**scope.get("state", {}), TENANT: tenant}
        await manager.handle_request({**scope, "state": state}, receive, send)

    async def _started(self) -> Any:
        async with self._starting:
            if self._manager is None:
                if self._tasks is None:
                    raise RecalldError("the MCP endpoint is not running")
                self._manager = await self._tasks.start(self._run)
            return self._manager

    async def _run(self, *, task_status: TaskStatus[Any]) -> None:
        from mcp.server.streamable_http_manager import StreamableHTTPSessionManager

        from server.mcp_server import build, scope_tenant

        assert self._runtime is not None
        manager = StreamableHTTPSessionManager(
            build(self._runtime, scope_tenant),
            stateless=True,
            json_response=True,
            max_request_body_size=self.settings.max_body_bytes,
        )
        async with manager.run():
            task_status.started(manager)
            await anyio.sleep_forever()
