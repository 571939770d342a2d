"""Who is calling: an API key names the tenant. With no key configured, loopback callers only."""

from __future__ import annotations

from starlette.requests import Request

from agent_runtime.core.errors import Unauthorized
from agent_runtime.runtime import Runtime
from agent_runtime.stores import DEFAULT_TENANT

LOOPBACK = {"127.0.0.1", "::1", "localhost"}


def is_loopback(host: str | None) -> bool:
    return host is not None and (host in LOOPBACK or host.startswith("127."))


class Auth:
    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    def keys_configured(self) -> bool:
        # Checked per request until a key exists, so a key made while the server runs takes effect.
        return self.runtime.multi_tenant()

    def tenant(self, request: Request) -> str:
        keyed = self._keyed(request)
        if keyed is not None:
            return keyed
        if self.keys_configured():
            raise Unauthorized("an API key is required: send 'Authorization: Bearer <key>'")
        client = request.client.host if request.client else None
        if not is_loopback(client):
            raise Unauthorized("with no API key configured, only loopback clients are served")
        return DEFAULT_TENANT

    def scope(self, request: Request) -> str | None | Anonymous:
        """For public operations: a key's tenant; None for the operator (loopback, no keys
        configured), who sees every tenant; `ANONYMOUS` for anyone else."""
        keyed = self._keyed(request)
        if keyed is not None:
            return keyed
        client = request.client.host if request.client else None
        if self.keys_configured() or not is_loopback(client):
            return ANONYMOUS
        return None

    def _keyed(self, request: Request) -> str | None:
        """The tenant of the request's API key; None without one; a bad key is refused."""
        header = request.headers.get("authorization", "")
        if not header.lower().startswith("bearer "):
            return None
        tenant = self.runtime.tenant_for_key(header[7:].strip())
        if tenant is None:
            raise Unauthorized("the API key is not valid")
        return tenant


class Anonymous:
    """A caller with no key, where keys are needed: it may know only that the server is up."""


ANONYMOUS = Anonymous()
