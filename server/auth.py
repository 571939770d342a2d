"""Who is calling: an API key names the tenant. With no key configured, loopback callers only,
on a loopback Host and from a loopback Origin: a web page elsewhere that posts to this machine,
or a name rebound to it (DNS rebinding), is not the operator.

The key comes from the Authorization header, or for the web console (`server/console/`) from
its HTTP-only, same-site cookie. A request that changes something with the cookie must also
carry the page's CSRF token (the X-CSRF-Token header, or the form's field), equal to the
console's CSRF cookie: the same double submit for the console's forms and its scripts.

Managing keys (/v1/keys) needs an admin key, and reaches its own tenant's keys only. The
operator on loopback with no key configured may not make keys through the API: the first admin
key comes from `recalld keys create --local`, which needs the database itself, not just a
connection to the server from the same machine."""

from __future__ import annotations

import hmac
import ipaddress
from urllib.parse import urlsplit

from starlette.requests import Request

from agent_runtime.core.errors import Forbidden, Unauthorized
from agent_runtime.runtime import Runtime
from agent_runtime.stores import DEFAULT_TENANT

KEY_COOKIE = "recalld_key"
CSRF_COOKIE = "recalld_csrf"
CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}


def is_loopback(host: str | None) -> bool:
    """An address of this machine (127.0.0.0/8, ::1) or `localhost`; never a name that only
    starts like one (127.0.0.1.example.com)."""
    if host is None:
        return False
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class Auth:
    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    def keys_configured(self) -> bool:
        # Checked per request until a key exists, so a key made while the server runs takes effect.
        return self.runtime.multi_tenant()

    def tenant(self, request: Request, csrf: str | None = None) -> str:
        """The caller's tenant; `csrf`: the token a console form sent (else the header's)."""
        keyed = self._keyed(request, csrf)
        if keyed is not None:
            return keyed
        if self.keys_configured():
            raise Unauthorized("an API key is required: send 'Authorization: Bearer <key>'")
        client = request.client.host if request.client else None
        if not is_loopback(client):
            raise Unauthorized("with no API key configured, only loopback clients are served")
        if not local_page(request):
            raise Forbidden(
                "with no API key configured, only loopback hosts and origins are served"
            )
        return DEFAULT_TENANT

    def scope(self, request: Request) -> str | None | Anonymous:
        """For public operations: a key's tenant; None for the operator (loopback, no keys
        configured), who sees every tenant; `ANONYMOUS` for anyone else."""
        keyed = self._keyed(request)
        if keyed is not None:
            return keyed
        client = request.client.host if request.client else None
        if self.keys_configured() or not is_loopback(client) or not local_page(request):
            return ANONYMOUS
        return None

    def admin(self, request: Request) -> str:
        """The tenant of the request's admin key; a member key (or none) is refused."""
        key = _bearer(request)
        if key is None:
            if self.keys_configured():
                raise Unauthorized("an API key is required: send 'Authorization: Bearer <key>'")
            raise Forbidden(
                "no API key exists yet: make the first admin key on the server's machine with "
                "'recalld keys create --local --tenant default'"
            )
        caller = self.runtime.keys.caller(key)
        if caller is None:
            raise Unauthorized("the API key is not valid")
        if not caller.admin:
            raise Forbidden("managing API keys needs an admin key; this is a member key")
        return caller.tenant_id

    def _keyed(self, request: Request, csrf: str | None = None) -> str | None:
        """The tenant of the request's API key; None without one; a bad key is refused. With no
        key configured a token means nothing: SDKs (OpenAI's) always send one, and a keyless
        server on loopback serves them like any other local client."""
        key = _bearer(request)
        if key is None:
            key = _cookie_key(request, csrf)
        if key is None:
            return None
        tenant = self.runtime.tenant_for_key(key)
        if tenant is None:
            if not self.keys_configured():
                return None
            raise Unauthorized("the API key is not valid")
        return tenant


def _cookie_key(request: Request, csrf: str | None) -> str | None:
    key = request.cookies.get(KEY_COOKIE)
    if not key or request.method in SAFE_METHODS:
        return key or None
    check_csrf(request, csrf)
    return key


def check_csrf(request: Request, csrf: str | None = None) -> None:
    """The request comes from a page of this server: its Origin (browsers send one with every
    POST) is this server's, and its CSRF token (`csrf`, else its header) equals the console's
    CSRF cookie. Cookies do not tell ports apart, so a page on another port of the same host
    could plant that cookie; it cannot send this server's Origin."""
    if not same_origin(request):
        raise Forbidden("a page of another site or port may not change anything here")
    expected = request.cookies.get(CSRF_COOKIE, "")
    given = csrf if csrf is not None else request.headers.get(CSRF_HEADER, "")
    if not expected or not hmac.compare_digest(expected.encode(), given.encode()):
        raise Forbidden("the console's CSRF token is missing or wrong: reload the page")


def same_origin(request: Request) -> bool:
    """No Origin (not a browser's cross-origin request), or this server's own host and port."""
    origin = request.headers.get("origin")
    if origin is None:
        return True
    return urlsplit(origin).netloc.lower() == request.headers.get("host", "").lower()


def local_page(request: Request) -> bool:
    """Host names this machine and Origin (if any) is this server itself: not a page elsewhere,
    on another port, or one that rebound a name to this machine."""
    host = urlsplit(f"//{request.headers.get('host', '')}").hostname
    return is_loopback(host) and same_origin(request)


def _bearer(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    if not header.lower().startswith("bearer "):
        return None
    return header[7:].strip()


class Anonymous:
    """A caller with no key, where keys are needed: it may know only that the server is up."""


ANONYMOUS = Anonymous()
