"""The one place where errors become HTTP responses: `{"error": {"code": ..., "message": ...}}`."""

from __future__ import annotations

import logging

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse

from agent_runtime.errors import RecalldError

log = logging.getLogger("recalld.server")


def error_body(code: str, message: str, field: str | None = None) -> dict:
    error: dict[str, str] = {"code": code, "message": message}
    if field:
        error["field"] = field
    return {"error": error}


async def recalld_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RecalldError)
    if exc.status >= 500:
        log.warning("%s: %s", exc.code, exc.message)
    return JSONResponse(error_body(exc.code, exc.message, exc.field), status_code=exc.status)


async def http_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    codes = {404: "not_found", 405: "method_not_allowed", 400: "bad_request"}
    return JSONResponse(
        error_body(codes.get(exc.status_code, "http_error"), str(exc.detail)),
        status_code=exc.status_code,
    )


async def unexpected_error(request: Request, exc: Exception) -> JSONResponse:
    log.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return JSONResponse(error_body("internal", "internal server error"), status_code=500)


HANDLERS = {
    RecalldError: recalld_error,
    HTTPException: http_error,
    Exception: unexpected_error,
}
