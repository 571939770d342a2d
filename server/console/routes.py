"""The console's pages and forms. Each form posts here and is answered with a redirect (so a
reload does not post it again) or, when the input is refused, with its page again showing why,
the text that was typed still in the form."""

from __future__ import annotations

from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from agent_runtime.core.errors import RecalldError
from server.auth import KEY_COOKIE, Auth, check_csrf
from server.console import views
from server.console.pages import STATIC, Pages
from server.console.visit import (
    CSRF_FIELD,
    REASONS,
    Visit,
    csrf_token,
    page,
    read_form,
    render,
    safe_next,
    set_cookie,
)
from server.errors import body_for
from server.history_models import BlockHistoryOut, RestoreBody
from server.parsing import query_data, validate
from server.responses import BlockOut, JobOut
from server.schemas import AgentCreate, BlockEdit, JobCreate, Params

SHOWN_EVENTS = 200  # the newest; the API pages through them all
SHOWN_VERSIONS = 50


def _query(visit: Visit, model: type[Params]) -> Any:
    """The page's query as `model`; a field a form left empty (a date not picked) is unset."""
    given = query_data(visit.request.query_params, model)
    return validate(model, {name: value for name, value in given.items() if value != ""})


def _number(text: str) -> int | str:
    """A form's number as an int, or the text as typed (which the model then refuses)."""
    return int(text) if text.isascii() and text.isdecimal() and len(text) <= 9 else text


def _redirect(target: str) -> Response:
    return RedirectResponse(target, status_code=303)


def _refused(exc: Exception, where: str) -> dict[str, Any]:
    """A refused input as the page shows it: status, message and the field it names."""
    status, body = body_for(exc, where)
    return {"status": status, **body["error"]}


# -- agents -----------------------------------------------------------------------------------


async def agents_page(visit: Visit, refused: dict[str, Any] | None = None) -> Response:
    search = _query(visit, views.AgentSearch)
    rows, more = await run_in_threadpool(views.agents, visit.runtime, visit.tenant, search)
    return visit.render(
        "agents.html",
        refused["status"] if refused else 200,
        agents=rows,
        more=more,
        search=search,
        refused=refused,
        form=visit.form,
        default_model=visit.runtime.settings.default_model,
    )


async def create_agent(visit: Visit) -> Response:
    fields: dict[str, Any] = {
        name: visit.field(name)
        for name in ("name", "model", "persona", "human")
        if visit.field(name)
    }
    window = visit.field("context_window")
    if window:
        fields["context_window"] = _number(window)
    try:
        spec = validate(AgentCreate, fields).spec()
        agent = await run_in_threadpool(visit.runtime.create_agent, spec, tenant=visit.tenant)
    except RecalldError as exc:
        return await agents_page(visit, _refused(exc, "creating an agent"))
    return _redirect(f"/agents/{agent.id}")


async def agent_page(visit: Visit, refused: dict[str, Any] | None = None) -> Response:
    search = _query(visit, views.MemorySearch)
    shown = await run_in_threadpool(
        views.agent, visit.runtime, visit.tenant, visit.path("agent_id"), search
    )
    status = refused["status"] if refused else 200
    return visit.render("agent.html", status, refused=refused, form=visit.form, **shown)


async def chat(visit: Visit) -> Response:
    """A turn for a browser without scripts (with them, the page streams it from the API)."""
    agent_id = visit.path("agent_id")
    content = visit.field("content")
    try:
        await run_in_threadpool(
            visit.runtime.send, agent_id, [("user", content)], tenant=visit.tenant
        )
    except RecalldError as exc:
        return await agent_page(visit, _refused(exc, "chat") | {"block": None})
    return _redirect(f"/agents/{agent_id}#chat")


async def edit_block(visit: Visit) -> Response:
    agent_id, label = visit.path("agent_id"), visit.path("label")
    try:
        patch = validate(BlockEdit, {"value": visit.form.get("value", "")}).patch()
        await run_in_threadpool(
            visit.runtime.update_block, agent_id, label, patch, tenant=visit.tenant
        )
    except RecalldError as exc:
        return await agent_page(visit, _refused(exc, f"editing {label}") | {"block": label})
    return _redirect(f"/agents/{agent_id}#block-{label}")


async def block_history(visit: Visit) -> Response:
    agent_id, label = visit.path("agent_id"), visit.path("label")
    agent = await run_in_threadpool(visit.runtime.get_agent, agent_id, tenant=visit.tenant)
    block, rows = await run_in_threadpool(
        visit.runtime.history.versions,
        visit.tenant,
        label,
        agent_id=agent_id,
        limit=SHOWN_VERSIONS + 1,  # one more: the last one's old value
    )
    history = BlockHistoryOut.of(block, rows, SHOWN_VERSIONS)
    return visit.render("history.html", agent=agent, block=BlockOut.of(block), history=history)


async def restore_block(visit: Visit) -> Response:
    agent_id, label = visit.path("agent_id"), visit.path("label")
    version = visit.field("version")
    body = validate(RestoreBody, {"version": _number(version)})
    await run_in_threadpool(
        visit.runtime.history.restore, visit.tenant, label, body.version, agent_id=agent_id
    )
    return _redirect(f"/agents/{agent_id}#block-{label}")


async def confirm_delete(visit: Visit) -> Response:
    agent = await run_in_threadpool(
        visit.runtime.get_agent, visit.path("agent_id"), tenant=visit.tenant
    )
    return visit.render("delete.html", agent=agent)


async def delete_agent(visit: Visit) -> Response:
    await run_in_threadpool(visit.runtime.delete_agent, visit.path("agent_id"), tenant=visit.tenant)
    return _redirect("/")


# -- jobs -------------------------------------------------------------------------------------


async def start_job(visit: Visit) -> Response:
    agent_id = visit.path("agent_id")
    fields: dict[str, Any] = {"goal": visit.field("goal")}
    steps = visit.field("max_steps")
    if steps:
        fields["max_steps"] = _number(steps)
    if visit.field("schedule"):
        fields["schedule"] = visit.field("schedule")
    try:
        body = validate(JobCreate, fields)
        job = await run_in_threadpool(
            visit.runtime.jobs.submit,
            agent_id,
            body.goal,
            tenant=visit.tenant,
            max_steps=body.max_steps,
            schedule=body.schedule,
        )
    except RecalldError as exc:
        return await agent_page(visit, _refused(exc, "starting a job") | {"block": "job"})
    return _redirect(f"/jobs/{job.id}")


async def job_page(visit: Visit) -> Response:
    job_id = visit.path("job_id")
    jobs = visit.runtime.jobs
    job = await run_in_threadpool(jobs.get, job_id, tenant=visit.tenant)
    events = await run_in_threadpool(
        jobs.latest_events, job_id, tenant=visit.tenant, limit=SHOWN_EVENTS
    )
    agent = await run_in_threadpool(visit.runtime.get_agent, job.agent_id, tenant=visit.tenant)
    return visit.render("job.html", job=JobOut.of(job), events=events, agent=agent)


async def cancel_job(visit: Visit) -> Response:
    job_id = visit.path("job_id")
    await run_in_threadpool(visit.runtime.jobs.cancel, job_id, tenant=visit.tenant)
    return _redirect(f"/jobs/{job_id}")


# -- signing in -------------------------------------------------------------------------------


def login_handlers(pages: Pages) -> tuple[Any, Any, Any]:
    """The login page, its form, and logging out: before any tenant is known."""

    def keys_needed(request: Request) -> bool:
        auth: Auth = request.app.state.auth
        return auth.keys_configured()

    async def login_page(request: Request, refused: str = "", status: int = 200) -> Response:
        needed = await run_in_threadpool(keys_needed, request)
        context = {
            "keys_needed": needed,
            "why": refused or REASONS.get(request.query_params.get("why", ""), ""),
            "next": safe_next(request.query_params.get("next", "/")),
            "banner": [],
        }
        return render(request, pages, "login.html", status, csrf_token(request), context)

    async def login(request: Request) -> Response:
        runtime = request.app.state.runtime
        try:
            form = await read_form(request, runtime.settings.max_body_bytes)
            check_csrf(request, form.get(CSRF_FIELD, ""))
        except RecalldError as exc:
            return await login_page(request, exc.message, body_for(exc, "login")[0])
        key = form.get("key", "").strip()
        tenant = await run_in_threadpool(runtime.tenant_for_key, key) if key else None
        if tenant is None:
            return await login_page(request, "That key is not valid.", 401)
        response = _redirect(safe_next(form.get("next", "/")))
        set_cookie(request, response, KEY_COOKIE, key)
        return response

    async def logout(request: Request) -> Response:
        try:
            form = await read_form(request, request.app.state.runtime.settings.max_body_bytes)
            check_csrf(request, form.get(CSRF_FIELD, ""))
        except RecalldError as exc:
            return await login_page(request, exc.message, body_for(exc, "logout")[0])
        response = _redirect("/login")
        response.delete_cookie(KEY_COOKIE, path="/")
        return response

    return login_page, login, logout


def routes() -> list[BaseRoute]:
    pages = Pages()
    login_page, login, logout = login_handlers(pages)

    def at(path: str, handler: Any, method: str = "GET") -> Route:
        return Route(path, page(pages, handler), methods=[method], include_in_schema=False)

    return [
        at("/", agents_page),
        at("/agents", create_agent, "POST"),
        at("/agents/{agent_id}", agent_page),
        at("/agents/{agent_id}/chat", chat, "POST"),
        at("/agents/{agent_id}/blocks/{label}", edit_block, "POST"),
        at("/agents/{agent_id}/blocks/{label}/history", block_history),
        at("/agents/{agent_id}/blocks/{label}/restore", restore_block, "POST"),
        at("/agents/{agent_id}/delete", confirm_delete),
        at("/agents/{agent_id}/delete", delete_agent, "POST"),
        at("/agents/{agent_id}/jobs", start_job, "POST"),
        at("/jobs/{job_id}", job_page),
        at("/jobs/{job_id}/cancel", cancel_job, "POST"),
        Route("/login", login_page, methods=["GET"], include_in_schema=False),
        Route("/login", login, methods=["POST"], include_in_schema=False),
        Route("/logout", logout, methods=["POST"], include_in_schema=False),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
    ]
