"""The one error hierarchy of recalld.

    RecalldError (500, "internal")
    ├── NotFound (404, "not_found")
    ├── Conflict (409, "conflict")
    │   ├── AgentBusy (409, "agent_busy")
    │   └── LeaseLost (409, "lease_lost")
    ├── InvalidInput (422, "invalid_input")
    ├── LimitExceeded (413, "limit_exceeded")
    ├── ContextTooSmall (422, "context_too_small")
    ├── Unauthorized (401, "unauthorized")
    ├── Forbidden (403, "forbidden")
    ├── ConfigurationError (500, "configuration")
    ├── IndexUnavailable (503, "index_unavailable")
    ├── ToolServerUnavailable (502, "tool_server_unavailable")
    └── ProviderError (502, "provider_error")
        ├── ProviderTimeout (504, "provider_timeout")
        ├── ProviderRateLimited (429, "provider_rate_limited")
        ├── ProviderBadRequest (502, "provider_bad_request")
        ├── ContextOverflow (502, "context_overflow")
        └── MalformedOutput (502, "malformed_output")

Each error carries a stable ``code`` and an HTTP ``status``; ``server/errors.py`` is the one place
that turns them into responses. Vendor errors are translated at their seam and chained.
"""

from __future__ import annotations


class RecalldError(Exception):
    code = "internal"
    status = 500

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class NotFound(RecalldError):
    code = "not_found"
    status = 404


class Conflict(RecalldError):
    code = "conflict"
    status = 409


class AgentBusy(Conflict):
    code = "agent_busy"


class LeaseLost(Conflict):
    """A turn (or job) found its lease taken over by another; its last step rolled back."""

    code = "lease_lost"


class InvalidInput(RecalldError):
    code = "invalid_input"
    status = 422


class LimitExceeded(RecalldError):
    code = "limit_exceeded"
    status = 413


class ContextTooSmall(RecalldError):
    code = "context_too_small"
    status = 422


class Unauthorized(RecalldError):
    code = "unauthorized"
    status = 401


class Forbidden(RecalldError):
    """The caller is known but may not do this (a member key managing keys)."""

    code = "forbidden"
    status = 403


class ConfigurationError(RecalldError):
    code = "configuration"
    status = 500


class IndexUnavailable(RecalldError):
    """The vector index or an embedder fails for every row: no row is to blame. `shared` when
    every tenant is affected (the index, or the default embedder), not one agent's setup."""

    code = "index_unavailable"
    status = 503

    def __init__(self, message: str, *, shared: bool = True) -> None:
        super().__init__(message)
        self.shared = shared


class ToolServerUnavailable(RecalldError):
    """An MCP server could not list its tools when it was registered or refreshed."""

    code = "tool_server_unavailable"
    status = 502


class ProviderError(RecalldError):
    """A model provider failed. `transient` errors (timeouts, rate limits, 5xx, a connection
    refused) may succeed when tried again; `retry_after` is the wait the provider asked for."""

    code = "provider_error"
    status = 502
    transient_by_default = False

    def __init__(
        self,
        message: str,
        *,
        field: str | None = None,
        transient: bool | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message, field=field)
        self.transient = self.transient_by_default if transient is None else transient
        self.retry_after = retry_after


class ProviderTimeout(ProviderError):
    code = "provider_timeout"
    status = 504
    transient_by_default = True


class ProviderRateLimited(ProviderError):
    code = "provider_rate_limited"
    status = 429
    transient_by_default = True


class ProviderBadRequest(ProviderError):
    code = "provider_bad_request"


class ContextOverflow(ProviderError):
    code = "context_overflow"


class MalformedOutput(ProviderError):
    """The model answered, but not in the shape asked for (fact extraction's tool call)."""

    code = "malformed_output"
