"""Who is visiting the console, and how a page handler runs: the same `Auth` as the REST API
(its key from the console's cookie), the form read within the body limit, the CSRF token of
every form checked, and any failure shown as a page (a missing or bad key: the login page).

The CSRF token is a random value kept in an HTTP-only, same-site cookie and repeated in each
page's forms and for its scripts (a double submit): a page elsewhere can neither read it nor
set it, so it cannot post a form here."""

from __future__ import annotations

import logging
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, quote, urlsplit

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from agent_runtime.core.errors import InvalidInput, Unauthorized
from agent_runtime.runtime import Runtime
from server.auth import CSRF_COOKIE, KEY_COOKIE, Auth, check_csrf
from server.console import views
from server.console.pages import Pages
from server.errors import body_for
from server.parsing import check_strings, read_body

log = logging.getLogger("recalld.console")

MAX_FORM_FIELDS = 20
CSRF_FIELD = "csrf"
REASONS = {"expired": "Your key no longer works: log in again."}  # ?why= on the login page


@dataclass
class Visit:
    """One request to a console page, its caller known."""

    request: Request
    runtime: Runtime
    pages: Pages
    tenant: str
    csrf: str
    form: dict[str, str] = field(default_factory=dict)
    banner: list[str] = field(default_factory=list)  # what is wrong with the server now

    def render(self, template: str, status: int = 200, **context: Any) -> Response:
        context = {"banner": self.banner, **context}
        return render(self.request, self.pages, template, status, self.csrf, context)

    def field(self, name: str) -> str:
        return self.form.get(name, "").strip()

    def path(self, name: str) -> str:
        value = self.request.path_params[name]
        assert isinstance(value, str)
        return value


Handler = Callable[[Visit], Awaitable[Response]]


def page(pages: Pages, handler: Handler) -> Callable[[Request], Awaitable[Response]]:
    """`handler` as a Starlette endpoint: the caller's tenant first, its form (a POST must
    carry the page's CSRF token), then the handler; every failure is a page."""

    async def endpoint(request: Request) -> Response:
        runtime: Runtime = request.app.state.runtime
        auth: Auth = request.app.state.auth
        token = csrf_token(request)
        try:
            form: dict[str, str] = {}
            if request.method == "POST":
                form = await read_form(request, runtime.settings.max_body_bytes)
                check_csrf(request, form.get(CSRF_FIELD, ""))
            # Off the event loop: finding the tenant may ask the database.
            tenant = await run_in_threadpool(auth.tenant, request, form.get(CSRF_FIELD))
            banner = await run_in_threadpool(views.banner, runtime, tenant)
            return await handler(Visit(request, runtime, pages, tenant, token, form, banner))
        except Unauthorized as exc:
            if await run_in_threadpool(auth.keys_configured):
                return to_login(request)
            context = {"status": 401, "error": {"code": "unauthorized", "message": exc.message}}
            return render(request, pages, "error.html", 401, token, context)
        except Exception as exc:
            status, body = body_for(exc, f"the console page {request.url.path}")
            context = {"status": status, "error": body["error"]}
            return render(request, pages, "error.html", status, token, context)

    return endpoint


def render(
    request: Request,
    pages: Pages,
    template: str,
    status: int,
    token: str,
    context: dict[str, Any],
) -> Response:
    everywhere = {
        "csrf": token,
        "signed_in": KEY_COOKIE in request.cookies,
        "path": request.url.path,
        "banner": context.pop("banner", []),
    }
    response = pages.render(template, {**everywhere, **context}, status)
    remember_csrf(request, response, token)
    return response


def csrf_token(request: Request) -> str:
    """The browser's CSRF token, or a new one (set by `remember_csrf` with the page)."""
    token = request.cookies.get(CSRF_COOKIE, "")
    return token if 32 <= len(token) <= 64 and token.isascii() else secrets.token_urlsafe(32)


def remember_csrf(request: Request, response: Response, token: str) -> None:
    if request.cookies.get(CSRF_COOKIE) != token:
        set_cookie(request, response, CSRF_COOKIE, token)


def set_cookie(request: Request, response: Response, name: str, value: str) -> None:
    """A cookie for this browser session: never sent by a page elsewhere, never read by script."""
    response.set_cookie(
        name,
        value,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        path="/",
    )


def to_login(request: Request) -> Response:
    """To the login page, and back to this page after it (for a form: the page it was on);
    with a key that no longer works, saying so."""
    if request.method == "GET":
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    else:
        referer = urlsplit(request.headers.get("referer", ""))
        here = referer.netloc == request.headers.get("host", "")
        target = referer.path if here and referer.path else "/"
    stale = KEY_COOKIE in request.cookies
    reason = "&why=expired" if stale else ""
    response = RedirectResponse(f"/login?next={quote(target)}{reason}", status_code=303)
    if stale:  # forget it
        response.delete_cookie(KEY_COOKIE, path="/")
    return response


def safe_next(target: str) -> str:
    """Where to go after logging in: a path of this server only (not //elsewhere, and nothing a
    browser would read another way: no backslash, space or control character)."""
    plain = target.isprintable() and not any(c in target for c in " \\")
    parts = urlsplit(target)
    ok = plain and target.startswith("/") and not target.startswith("//")
    return target if ok and not parts.scheme and not parts.netloc else "/"


async def read_form(request: Request, limit: int) -> dict[str, str]:
    """An urlencoded form's fields (the first value of each), within `limit` bytes."""
    raw = await read_body(request, limit)
    try:
        pairs = parse_qsl(
            raw.decode("utf-8"),
            keep_blank_values=True,
            strict_parsing=False,
            max_num_fields=MAX_FORM_FIELDS,
        )
    except (UnicodeDecodeError, ValueError) as exc:
        raise InvalidInput(f"the form could not be read: {exc}") from exc
    form: dict[str, str] = {}
    for name, value in pairs:
        form.setdefault(name, value.replace("\r\n", "\n"))
    check_strings(form)
    return form
