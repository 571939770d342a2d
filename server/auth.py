"""Who is calling: an API key names the tenant. With no key configured, loopback callers only."""

from __future__ import annotations

from starlette.requests import Request

from agent_runtime import keys
from agent_runtime.errors import Unauthorized
from agent_runtime.runtime import DEFAULT_TENANT, Runtime

LOOPBACK = {"127.0.0.1", "::1", "localhost"}


def is_loopback(host: str | None) -> bool:
    return host is not None and (host in LOOPBACK or host.startswith("127."))


class Auth:
    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self._keys_configured: bool | None = None

    def keys_configured(self) -> bool:
        # Checked per request until a key exists, so a key made while the server runs takes effect.
        if not self._keys_configured:
            self._keys_configured = keys.any_configured(self.runtime.engine)
        return self._keys_configured

    def tenant(self, request: Request) -> str:
        header = request.headers.get("authorization", "")
        if header.lower().startswith("bearer "):
            tenant = keys.tenant_for(self.runtime.engine, header[7:].strip())
            if tenant is None:
                raise Unauthorized("the API key is not valid")
            return tenant
        if self.keys_configured():
            raise Unauthorized("an API key is required: send 'Authorization: Bearer <key>'")
        client = request.client.host if request.client else None
        if not is_loopback(client):
            raise Unauthorized("with no API key configured, only loopback clients are served")
        return DEFAULT_TENANT
