"""Where an agent's model calls may go, and with which key.

The server's provider keys (`OPENAI_API_KEY`, ...) belong to their providers' own endpoints. A
call to a custom `model_base_url` carries a key only when the operator binds one to the URL's
prefix (`RECALLD_BASE_URL_KEYS`); otherwise it carries a placeholder, so litellm never falls back
to a key from the environment and sends it to an address a tenant chose.

Once API keys exist (several tenants), a base URL must also start with one of the operator's
`RECALLD_ALLOWED_BASE_URLS`: a tenant cannot make the server call an address of its choosing.
With no API keys (one operator on loopback) any http(s) URL works, so a local Ollama or vLLM
needs no setting.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import unquote, urlsplit

from agent_runtime.core.errors import InvalidInput
from agent_runtime.core.limits import MAX_BASE_URL_CHARS

# Sent as the key to a custom base URL that has none bound: never a real credential.
NO_KEY = "recalld-no-key"
SETTING = "RECALLD_ALLOWED_BASE_URLS"


def check_syntax(url: str, field: str = "model_base_url", limit: int = MAX_BASE_URL_CHARS) -> None:
    """An outbound URL (`field` names it) is an absolute http(s) URL with a host, no credentials
    and no control characters; anything else (file://, NUL, spaces) is refused whatever the
    policy."""
    if len(url) > limit:
        raise InvalidInput(f"{field} is over {limit} characters", field=field)
    if any(c.isspace() or ord(c) < 32 or ord(c) == 127 or c == "\\" for c in url):
        raise InvalidInput(
            f"{field} must not contain spaces, backslashes or control characters", field=field
        )
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 (raises ValueError on a bad port)
    except ValueError as exc:
        raise InvalidInput(f"{field} is not a URL: {exc}", field=field) from exc
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidInput(f"{field} must be an http:// or https:// URL with a host", field=field)
    if parts.username is not None or parts.password is not None:
        raise InvalidInput(
            f"{field} must not carry credentials; the server binds keys and secrets by name",
            field=field,
        )
    # A prefix check reads the URL as written, a client after resolving "..": refuse what differs.
    if any(unquote(segment) in (".", "..") for segment in parts.path.split("/")):
        raise InvalidInput(f"{field} must not contain . or .. path segments", field=field)


def under(url: str, prefix: str) -> bool:
    """`url` lies under `prefix` at a path boundary: "http://h:1/v1" is under "http://h:1/" and
    "http://h:1", but "http://h:10" and "http://h:1@evil" are not under "http://h:1"."""
    base = prefix.rstrip("/")
    return url == base or url.startswith(base + "/")


@dataclass(frozen=True)
class Endpoints:
    """The operator's policy for custom base URLs (from `Settings`)."""

    allowed: tuple[str, ...] = ()
    keys: tuple[tuple[str, str], ...] = field(default=(), repr=False)

    def check(self, url: str | None, *, multi_tenant: bool) -> None:
        """Refuse a base URL a tenant may not use (InvalidInput naming the setting)."""
        if url is None:
            return
        check_syntax(url)
        if multi_tenant and not any(under(url, p) for p in self.allowed):
            allowed = ", ".join(self.allowed) if self.allowed else "none are set"
            raise InvalidInput(
                f"model_base_url {url!r} is not allowed: with API keys configured it must start "
                f"with one of {SETTING} ({allowed})",
                field="model_base_url",
            )

    def key_for(self, url: str | None) -> str | None:
        """The key a call to `url` carries: None (the provider's own key, from the
        environment) for a provider's default endpoint; the bound key of the longest matching
        prefix; else `NO_KEY`."""
        if url is None:
            return None
        matching = [(len(p), key) for p, key in self.keys if under(url, p)]
        return max(matching)[1] if matching else NO_KEY
