"""Settings read once from ``RECALLD_*`` environment variables; nothing else reads them."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from agent_runtime.core.errors import ConfigurationError

PREFIX = "RECALLD_"


@dataclass(frozen=True)
class ToolSecret:
    """A secret a tool's headers may name, and the only URL prefix it may be sent to."""

    name: str
    value: str = field(repr=False)
    url_prefix: str


@dataclass(frozen=True)
class Settings:
    home: Path = field(default_factory=lambda: Path.home() / ".recalld")
    database_url: str | None = None
    chroma_url: str | None = None
    default_model: str = "offline"
    default_embedding: str = "local"
    default_context_window: int = 16_000
    default_max_steps: int = 10
    # Paging starts past `page_trigger` of the window and evicts down to `page_target`.
    page_trigger: float = 0.8
    page_target: float = 0.5
    # How long a request waits for an agent busy with another turn before it gets a 409.
    busy_wait_seconds: float = 10.0
    # A turn's lease on its agent; renewed every step, so only a dead process lets one lapse.
    lease_seconds: float = 300.0
    # Each process beats this often; six missed beats and its leases are taken over.
    heartbeat_seconds: float = 5.0
    llm_timeout_seconds: float = 120.0
    # A model call that fails transiently (timeout, 429, 5xx, refused connection) is tried
    # up to this many times in all, waiting no longer than the budget in all.
    provider_attempts: int = 4
    provider_retry_seconds: float = 60.0
    workers: int = 1
    # Requests served at once: each turn holds a thread while its model answers, so this many
    # conversations can wait on their models together (Starlette's default is 40).
    request_threads: int = 256
    # A job's claim on its worker; renewed every step. A dead worker's jobs move on after it.
    job_lease_seconds: float = 60.0
    worker_poll_seconds: float = 0.5
    # Request limits (agent_runtime/limits.py has the fixed ones).
    max_body_bytes: int = 10 * 1024 * 1024
    max_messages_per_send: int = 100
    # Episodic memory (facts of kind event or plan, and turns paging files in archival memory)
    # expires this many days after it is written; None: never. Agents may set their own.
    episodic_ttl_days: float | None = 365.0
    # The model that extracts facts for every agent that names none of its own (memory_model);
    # None: each agent's own model. "offline" extracts by rules.
    memory_model: str | None = None
    # Extraction pipeline threads per process (recalld serve and recalld worker).
    extraction_threads: int = 1
    # A batch's claim; a process that dies mid-batch leaves it to another after this long.
    extraction_lease_seconds: float = 120.0
    # How often the background sweep purges what has expired.
    expiry_sweep_seconds: float = 300.0
    # An admin key for tenant "default" stored at start if new: the first key, with no shell on
    # the server's machine (at least 32 characters). Never shown.
    bootstrap_admin_key: str | None = field(default=None, repr=False)
    # Where agents' model calls may go once API keys exist (several tenants): base URL prefixes.
    allowed_base_urls: tuple[str, ...] = ()
    # Keys bound to base URL prefixes, read from the environment variables that
    # RECALLD_BASE_URL_KEYS names ("https://llm.internal/v1=INTERNAL_LLM_KEY"). Never shown.
    base_url_keys: tuple[tuple[str, str], ...] = field(default=(), repr=False)
    # Where custom tools and MCP servers may send requests: URL prefixes; empty means nowhere.
    allowed_tool_urls: tuple[str, ...] = ()
    # Secrets a tool's headers may name as ${secret:NAME}, each read from the environment variable
    # RECALLD_TOOL_SECRETS names and bound to the URL prefix it may be sent to
    # ("WEATHER_KEY=WEATHER_API_KEY@https://api.weather.example/"). Never shown, logged or exported.
    tool_secrets: tuple[ToolSecret, ...] = field(default=(), repr=False)
    tool_timeout_seconds: float = 10.0
    # Executables an MCP server may be started with (stdio): the operator's choice, none by
    # default, since a tenant naming a command runs it on this machine.
    mcp_commands: tuple[str, ...] = ()

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: object) -> Settings:
        env = os.environ if env is None else env
        values: dict[str, object] = {}
        for name, kind in _FIELDS.items():
            raw = env.get(PREFIX + name.upper())
            if raw is None or raw == "":
                continue
            values[name] = _parse(name, raw, kind)
        values["allowed_base_urls"] = _listed(env.get(PREFIX + "ALLOWED_BASE_URLS", ""))
        values["base_url_keys"] = _bound_keys(env.get(PREFIX + "BASE_URL_KEYS", ""), env)
        values["allowed_tool_urls"] = _listed(env.get(PREFIX + "ALLOWED_TOOL_URLS", ""))
        values["mcp_commands"] = _listed(env.get(PREFIX + "MCP_COMMANDS", ""))
        values["tool_secrets"] = _named_secrets(env.get(PREFIX + "TOOL_SECRETS", ""), env)
        values.update({k: v for k, v in overrides.items() if v is not None})
        settings = cls(**values)  # type: ignore[arg-type]
        settings.validate()
        return settings

    def validate(self) -> None:
        if not 0 < self.page_target < self.page_trigger <= 1:
            raise ConfigurationError(
                "RECALLD_PAGE_TARGET must be below RECALLD_PAGE_TRIGGER, both in (0, 1]"
            )
        if self.default_context_window < 256:
            raise ConfigurationError("RECALLD_DEFAULT_CONTEXT_WINDOW must be at least 256 tokens")
        if self.max_body_bytes < 1024:
            raise ConfigurationError("RECALLD_MAX_BODY_BYTES must be at least 1024")
        if self.episodic_ttl_days is not None and self.episodic_ttl_days <= 0:
            raise ConfigurationError("RECALLD_EPISODIC_TTL_DAYS must be above 0 (or 'never')")
        if not 1 <= self.provider_attempts <= 20 or self.provider_retry_seconds < 0:
            raise ConfigurationError(
                "RECALLD_PROVIDER_ATTEMPTS must be 1 to 20 and RECALLD_PROVIDER_RETRY_SECONDS "
                "at least 0"
            )
        if self.tool_timeout_seconds <= 0:
            raise ConfigurationError("RECALLD_TOOL_TIMEOUT_SECONDS must be above 0")
        if not 1 <= self.request_threads <= 4096:
            raise ConfigurationError("RECALLD_REQUEST_THREADS must be 1 to 4096")
        if self.max_messages_per_send < 1:
            raise ConfigurationError("RECALLD_MAX_MESSAGES_PER_SEND must be at least 1")

    @property
    def sqlalchemy_url(self) -> str:
        if self.database_url:
            url = self.database_url
            # A bare postgresql:// URL means psycopg 3, the driver we install.
            if url.startswith("postgresql://") or url.startswith("postgres://"):
                url = "postgresql+psycopg://" + url.split("://", 1)[1]
            return url
        return f"sqlite:///{self.home / 'recalld.db'}"

    @property
    def chroma_path(self) -> Path:
        return self.home / "chroma"

    @property
    def models_path(self) -> Path:
        """Where the local embedding model's built graph is kept between starts."""
        return self.home / "models"

    def lifetimes(
        self, agent_ttl: dict[str, float | None] | None = None
    ) -> dict[str, float | None]:
        """Days each kind of episodic memory lives (None: for ever), an agent's own over ours."""
        days = self.episodic_ttl_days
        return {"event": days, "plan": days, "paged": days} | dict(agent_ttl or {})

    def with_(self, **changes: object) -> Settings:
        return replace(self, **changes)  # type: ignore[arg-type]


_FIELDS: dict[str, type] = {
    "home": Path,
    "database_url": str,
    "chroma_url": str,
    "default_model": str,
    "default_embedding": str,
    "default_context_window": int,
    "default_max_steps": int,
    "page_trigger": float,
    "page_target": float,
    "busy_wait_seconds": float,
    "lease_seconds": float,
    "heartbeat_seconds": float,
    "llm_timeout_seconds": float,
    "provider_attempts": int,
    "provider_retry_seconds": float,
    "workers": int,
    "request_threads": int,
    "job_lease_seconds": float,
    "worker_poll_seconds": float,
    "max_body_bytes": int,
    "max_messages_per_send": int,
    "episodic_ttl_days": float,
    "expiry_sweep_seconds": float,
    "memory_model": str,
    "extraction_threads": int,
    "extraction_lease_seconds": float,
    "bootstrap_admin_key": str,
    "tool_timeout_seconds": float,
}


def _listed(raw: str) -> tuple[str, ...]:
    """A comma-separated setting's items, stripped, empty ones dropped."""
    return tuple(item.strip() for item in raw.split(",") if item.strip())


def _bound_keys(raw: str, env: Mapping[str, str]) -> tuple[tuple[str, str], ...]:
    """`prefix=ENV_NAME` pairs, comma-separated, resolved to (prefix, key)."""
    bound = []
    for item in _listed(raw):
        prefix, sep, variable = item.rpartition("=")
        if not sep or not prefix.strip() or not variable.strip():
            raise ConfigurationError(
                f"{PREFIX}BASE_URL_KEYS: {item!r} is not 'https://host/prefix=ENV_VARIABLE'"
            )
        key = env.get(variable.strip(), "")
        if not key:
            raise ConfigurationError(
                f"{PREFIX}BASE_URL_KEYS names {variable.strip()}, which is not set or empty"
            )
        bound.append((prefix.strip(), key))
    return tuple(bound)


def _named_secrets(raw: str, env: Mapping[str, str]) -> tuple[ToolSecret, ...]:
    """`NAME=ENV_NAME@URL_PREFIX` items, comma-separated, each resolved to a ToolSecret."""
    named = []
    for item in _listed(raw):
        name, sep, rest = (p.strip() for p in item.partition("="))
        variable, at, prefix = (p.strip() for p in rest.partition("@"))
        if not sep or not name.replace("_", "").isalnum() or not variable:
            raise ConfigurationError(
                f"{PREFIX}TOOL_SECRETS: {item!r} is not 'NAME=ENV_VARIABLE@URL_PREFIX' (NAME: "
                "letters, digits, _)"
            )
        if not at or not prefix.startswith(("http://", "https://")):
            raise ConfigurationError(
                f"{PREFIX}TOOL_SECRETS: {name} is bound to no URL: write "
                f"{name}={variable}@https://host/path/ (the only prefix it may be sent to)"
            )
        value = env.get(variable, "")
        if not value:
            raise ConfigurationError(
                f"{PREFIX}TOOL_SECRETS names {variable}, which is not set or empty"
            )
        named.append(ToolSecret(name, value, prefix))
    return tuple(named)


def _parse(name: str, raw: str, kind: type) -> object:
    if name == "episodic_ttl_days" and raw.strip().lower() == "never":
        return None
    try:
        if kind is Path:
            return Path(raw).expanduser()
        return kind(raw)
    except ValueError as exc:
        raise ConfigurationError(
            f"{PREFIX}{name.upper()}={raw!r} is not a valid {kind.__name__}"
        ) from exc
