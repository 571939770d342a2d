"""Route declarations. Each `Operation` names its method, path, handler, and the models of its
path, query, headers, body and response; the Starlette routes (`routes`) and the OpenAPI document
(`server/openapi.py`) are both built from the same list, so the document cannot drift from what
the handlers parse and return.

A handler receives a `Call` whose inputs are already validated; it returns its response model
(serialised with the declared status), `None` (no content), or a `Response` of its own (streams).
Any error, ours or unexpected, is answered here through `server/errors.py`, never re-raised.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from agent_runtime.core.settings import Settings
from agent_runtime.runtime import Runtime
from server.auth import Auth
from server.errors import error_response, http_error
from server.parsing import check_strings, decode_json, header_data, query_data, read_body, validate

M = TypeVar("M", bound=BaseModel)
Handler = Callable[["Call"], Awaitable[BaseModel | Response | None]]
PATH_PARAM = re.compile(r"{(\w+)}")


@dataclass(frozen=True)
class Operation:
    method: str
    path: str
    handler: Handler
    summary: str
    description: str = ""
    path_params: type[BaseModel] | None = None
    query: type[BaseModel] | None = None
    headers: type[BaseModel] | None = None
    body: type[BaseModel] | None = None
    response: type[BaseModel] | None = None  # None: no content, or `events`
    status: int = 200
    # A text/event-stream response: each event's name and the model of its data (None: any
    # object; "*": any other name). Every stream may end with an `error` event instead.
    events: dict[str, type[BaseModel] | None] = field(default_factory=dict)
    errors: tuple[int, ...] = ()  # statuses beyond 401/413/422, which follow from the inputs
    # A 202 the operation may answer instead (work queued): its model. The handler returns it
    # as `accepted_response(...)`.
    accepted: type[BaseModel] | None = None
    public: bool = False  # served without an API key (health)

    def __post_init__(self) -> None:
        named = set(PATH_PARAM.findall(self.path))
        declared = set(self.path_params.model_fields) if self.path_params else set()
        if named != declared:
            raise ValueError(f"{self.method} {self.path} declares path parameters {declared}")

    @property
    def operation_id(self) -> str:
        return self.handler.__name__

    @property
    def statuses(self) -> list[int]:
        """Every status the operation may answer with, its success first."""
        out = [self.status, *self.errors, *([202] if self.accepted else [])]
        if not self.public:
            out.append(401)
        if self.body is not None:
            out.append(413)
        if self.body or self.query or self.headers or self.path_params:
            out.append(422)
        return sorted(set(out), key=lambda s: (s != self.status, s))


@dataclass(frozen=True)
class Call:
    """One request to an operation, its inputs validated."""

    request: Request
    runtime: Runtime
    settings: Settings
    tenant_id: str | None
    inputs: dict[str, BaseModel] = field(default_factory=dict)

    @property
    def tenant(self) -> str:
        assert self.tenant_id is not None, "a public operation has no tenant"
        return self.tenant_id

    def path(self, model: type[M]) -> M:
        return self._input("path", model)

    def query(self, model: type[M]) -> M:
        return self._input("query", model)

    def headers(self, model: type[M]) -> M:
        return self._input("headers", model)

    def body(self, model: type[M]) -> M:
        return self._input("body", model)

    def _input(self, kind: str, model: type[M]) -> M:
        value = self.inputs.get(kind)
        # The handler reads what its operation declares, or it fails on its first test.
        assert isinstance(value, model), f"{kind} is declared as {type(value).__name__}"
        return value


def routes(operations: list[Operation], settings: Settings) -> list[Route]:
    """One Starlette route per path, so a 405 lists every method the path allows."""
    by_path: dict[str, dict[str, Operation]] = {}
    for op in operations:
        methods = by_path.setdefault(op.path, {})
        if op.method in methods:
            raise ValueError(f"{op.method} {op.path} is declared twice")
        methods[op.method] = op

    # Literal segments before parameters (/v1/agents/import before /v1/agents/{agent_id}): a
    # method neither allows gets the 405 (and Allow) of the literal path, the one it named.
    def literal_first(path: str) -> list[bool]:
        return [PATH_PARAM.fullmatch(segment) is not None for segment in path.split("/")]

    return [
        Route(
            path,
            _endpoint(methods, settings, _shadowing(path, by_path)),
            methods=list(methods),
            name=path,
        )
        for path, methods in sorted(by_path.items(), key=lambda item: literal_first(item[0]))
    ]


def _shadowing(
    path: str, by_path: dict[str, dict[str, Operation]]
) -> list[tuple[re.Pattern[str], list[str]]]:
    """The paths more literal than `path` that a request for it may also match
    (/v1/memories/search for /v1/memories/{fact_id}), with their methods: a method such a path
    does not allow gets its 405 there, instead of being taken for a parameter here."""
    mine = path.split("/")
    out = []
    for other, methods in by_path.items():
        theirs = other.split("/")
        if other == path or len(theirs) != len(mine):
            continue
        pairs = list(zip(mine, theirs, strict=True))
        if all(a == b or PATH_PARAM.fullmatch(a) for a, b in pairs) and any(
            PATH_PARAM.fullmatch(a) and not PATH_PARAM.fullmatch(b) for a, b in pairs
        ):
            segments = ("[^/]+" if PATH_PARAM.fullmatch(b) else re.escape(b) for b in theirs)
            out.append((re.compile("/".join(segments)), sorted(methods)))
    return out


def _endpoint(
    methods: dict[str, Operation],
    settings: Settings,
    shadowing: list[tuple[re.Pattern[str], list[str]]],
) -> Callable[..., Any]:
    async def endpoint(request: Request) -> Response:
        for pattern, allowed in shadowing:
            if pattern.fullmatch(request.url.path):  # routed here: that path refused the method
                return await http_error(
                    request, HTTPException(405, headers={"Allow": ", ".join(allowed)})
                )
        op = methods["GET" if request.method == "HEAD" else request.method]
        try:
            return await serve(op, request, settings)
        except Exception as exc:
            return error_response(request, exc)

    return endpoint


async def serve(op: Operation, request: Request, settings: Settings) -> Response:
    """Who calls, then the inputs in order (path, query, headers, body), then the handler."""
    state = request.app.state
    auth: Auth = state.auth
    # Off the event loop: finding the tenant may ask the database (keys.KeyLookup).
    tenant = None if op.public else await run_in_threadpool(auth.tenant, request)
    inputs: dict[str, BaseModel] = {}
    if op.path_params is not None:
        inputs["path"] = _params(op.path_params, dict(request.path_params))
    if op.query is not None:
        inputs["query"] = _params(op.query, query_data(request.query_params, op.query))
    if op.headers is not None:
        inputs["headers"] = _params(op.headers, header_data(request.headers, op.headers))
    if op.body is not None:
        raw = await read_body(request, settings.max_body_bytes)
        inputs["body"] = validate(op.body, decode_json(raw))
    call = Call(request, state.runtime, settings, tenant, inputs)
    result = await op.handler(call)
    if isinstance(result, Response):
        return result
    if result is None:
        assert op.response is None, f"{op.operation_id} returned nothing"
        return Response(status_code=op.status)
    assert op.response is not None and isinstance(result, op.response), op.operation_id
    return Response(
        result.model_dump_json(exclude_unset=True),
        status_code=op.status,
        media_type="application/json",
    )


def _params(model: type[M], data: dict[str, Any]) -> M:
    check_strings(data)
    return validate(model, data)


def accepted_response(model: BaseModel) -> Response:
    """A 202: the request was taken and its work queued (the operation's `accepted` model)."""
    return Response(
        model.model_dump_json(exclude_unset=True), status_code=202, media_type="application/json"
    )
