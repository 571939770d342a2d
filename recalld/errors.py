"""What the client raises when the server answers with an error, or cannot be reached.

    RecalldAPIError (any status; alias ApiError)
    ├── ConnectionError (status 0, code "unreachable")
    ├── AuthenticationError (401)
    ├── PermissionDeniedError (403)
    ├── NotFoundError (404)
    ├── ConflictError (409)
    ├── InvalidRequestError (400, 413, 422)
    ├── RateLimitError (429)
    └── ServerError (5xx)
        └── ProviderError (502, 504)

Each carries the server's `code` (such as "not_found" or "agent_busy"), its `message`, the
`field` a 422 names (a dotted path such as "messages.0.content") and the HTTP `status`.
"""

from __future__ import annotations

from typing import Any

import httpx


class RecalldAPIError(Exception):
    """The server answered with an error, or could not be reached (status 0)."""

    def __init__(self, status: int, code: str, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.field = field

    def __str__(self) -> str:
        where = f" ({self.field})" if self.field else ""
        return f"{self.message}{where}"


ApiError = RecalldAPIError


class ConnectionError(RecalldAPIError):  # shadows the builtin inside this module only
    """The server could not be reached: refused, timed out, or the connection broke."""


class AuthenticationError(RecalldAPIError):
    """401: no API key, or one the server does not know."""


class PermissionDeniedError(RecalldAPIError):
    """403: the key is known but may not do this."""


class NotFoundError(RecalldAPIError):
    """404: no such agent, block, fact, job or key in the caller's tenant."""


class ConflictError(RecalldAPIError):
    """409: for instance the agent is busy with another turn, or a name is taken."""


class InvalidRequestError(RecalldAPIError):
    """400, 413, 422: the request was refused as it stands; `field` names the culprit."""


class RateLimitError(RecalldAPIError):
    """429: the model provider is rate limiting."""


class ServerError(RecalldAPIError):
    """5xx: the server failed."""


class ProviderError(ServerError):
    """502, 504: the model provider failed or timed out."""


BY_STATUS: dict[int, type[RecalldAPIError]] = {
    400: InvalidRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: ConflictError,
    413: InvalidRequestError,
    422: InvalidRequestError,
    429: RateLimitError,
    502: ProviderError,
    504: ProviderError,
}


def error_for(status: int, code: str, message: str, field: str | None = None) -> RecalldAPIError:
    """The exception for an error answer with this status."""
    kind = BY_STATUS.get(status, ServerError if status >= 500 else RecalldAPIError)
    return kind(status, code, message, field)


def error_from_response(response: httpx.Response) -> RecalldAPIError:
    """The exception for an error response, from its `{"error": {...}}` body when it has one."""
    try:
        body: Any = response.json()
    except ValueError:
        body = None
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        error = {}
    return error_for(
        response.status_code,
        str(error.get("code", "http_error")),
        str(error.get("message", response.text[:200] or response.reason_phrase)),
        error.get("field"),
    )


def unreachable(url: str, exc: Exception) -> ConnectionError:
    return ConnectionError(0, "unreachable", f"cannot reach the recalld server at {url} ({exc})")
