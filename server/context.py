"""What a route handler needs from the app: the runtime and the caller's tenant."""

from __future__ import annotations

from dataclasses import dataclass

from starlette.requests import Request

from agent_runtime.runtime import Runtime
from server.auth import Auth


@dataclass(frozen=True)
class Caller:
    runtime: Runtime
    tenant: str


def caller(request: Request) -> Caller:
    state = request.app.state
    auth: Auth = state.auth
    return Caller(runtime=state.runtime, tenant=auth.tenant(request))
