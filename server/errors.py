"""The one place where errors become HTTP responses: `{"error": {"code", "message", "field"?}}`.

Our own `RecalldError`s carry their status and code. Anything else is logged with its traceback
and answered with a generic 500, which is returned (never re-raised) so that the connection it
came on stays usable.
"""

from __future__ import annotations

import logging
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse

from agent_runtime.core.errors import RecalldError

log = logging.getLogger("recalld.server")

HTTP_CODES = {400: "bad_request", 404: "not_found", 405: "method_not_allowed"}


def error_body(code: str, message: str, field: str | None = None) -> dict[str, Any]:
    error: dict[str, str] = {"code": code, "message": message}
    if field:
        error["field"] = field
    return {"error": error}


def body_for(exc: Exception, where: str) -> tuple[int, dict[str, Any]]:
    """Status and body for any exception; `where` names the request in the log."""
    if isinstance(exc, RecalldError):
        if exc.status >= 500:
            log.warning("%s: %s", exc.code, exc.message)
        return exc.status, error_body(exc.code, exc.message, exc.field)
    log.error("unhandled error on %s", where, exc_info=exc)
    return 500, error_body("internal", "internal server error")


def error_response(request: Request, exc: Exception) -> JSONResponse:
    status, body = body_for(exc, f"{request.method} {request.url.path}")
    return JSONResponse(body, status_code=status)


async def http_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    return JSONResponse(
        error_body(HTTP_CODES.get(exc.status_code, "http_error"), str(exc.detail)),
        status_code=exc.status_code,
        headers=exc.headers,  # a 405 says which methods the path allows
    )


async def any_error(request: Request, exc: Exception) -> JSONResponse:
    return error_response(request, exc)


# Operations answer their own errors (server/api.py); these cover the router's 404 and 405, and
# give anything raised outside an operation the same shape.
HANDLERS = {HTTPException: http_error, RecalldError: any_error, Exception: any_error}
