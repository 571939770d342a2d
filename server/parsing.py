"""Request input, checked before a handler runs: a bounded body, JSON no deeper than
`MAX_JSON_DEPTH`, strings that are valid Unicode, and pydantic models whose errors become one
`InvalidInput` naming the field the way a client wrote it (`messages[3].content`)."""

from __future__ import annotations

import json
import re
import typing
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails
from starlette.datastructures import Headers, QueryParams
from starlette.requests import Request

from agent_runtime.core.errors import InvalidInput, LimitExceeded
from agent_runtime.core.limits import MAX_JSON_DEPTH

M = TypeVar("M", bound=BaseModel)

# A lone surrogate is not Unicode: it cannot be stored, encoded or sent to a model. NUL cannot be
# stored in PostgreSQL text.
BAD_CHARACTER = re.compile("[\ud800-\udfff\x00]")


async def read_body(request: Request, limit: int) -> bytes:
    """The body, refused with a 413 once it is over `limit` bytes: by its Content-Length before
    reading, and while reading when there is none (chunked) or it understates."""
    declared = request.headers.get("content-length", "")
    if declared.isascii() and declared.isdigit() and int(declared) > limit:
        raise body_too_large(limit)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise body_too_large(limit)
        chunks.append(chunk)
    return b"".join(chunks)


def body_too_large(limit: int) -> LimitExceeded:
    return LimitExceeded(
        f"the request body is over the server's limit of {limit} bytes "
        "(max_body_bytes, set by RECALLD_MAX_BODY_BYTES)"
    )


def decode_json(raw: bytes) -> Any:
    """The body as JSON (empty is `{}`), checked for depth and for characters we cannot keep."""
    try:
        data = json.loads(raw or b"{}", parse_constant=_no_constant)
    except RecursionError as exc:
        raise _too_deep("") from exc
    except ValueError as exc:
        raise InvalidInput(f"request body is not valid JSON: {exc}") from exc
    check_strings(data)
    return data


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _too_deep(where: str) -> InvalidInput:
    return InvalidInput(
        f"request body is nested deeper than {MAX_JSON_DEPTH} levels", field=where or None
    )


def check_strings(data: Any) -> None:
    """Walks `data` without recursion: containers at most `MAX_JSON_DEPTH` deep, and no lone
    surrogate or NUL in any string or key (named by its place, as `messages[3].content`)."""
    stack: list[tuple[Any, str, int]] = [(data, "", 1)]
    while stack:
        value, where, depth = stack.pop()
        if isinstance(value, str):
            _check_text(value, where)
            continue
        if not isinstance(value, dict | list):
            continue
        if depth > MAX_JSON_DEPTH:
            raise _too_deep(where)
        if isinstance(value, list):
            stack.extend((item, f"{where}[{i}]", depth + 1) for i, item in enumerate(value))
            continue
        for key, item in value.items():
            if BAD_CHARACTER.search(key):
                # The key itself cannot be echoed back: name the object that holds it.
                raise InvalidInput(
                    f"a field name in '{where or 'the body'}' holds a lone surrogate or NUL",
                    field=where or None,
                )
            stack.append((item, f"{where}.{key}" if where else key, depth + 1))


def _check_text(text: str, where: str) -> None:
    found = BAD_CHARACTER.search(text)
    if found is None:
        return
    what = "NUL" if found.group() == "\x00" else f"a lone surrogate (\\u{ord(found.group()):04x})"
    raise InvalidInput(
        f"'{where or 'body'}' holds {what}, which is not valid text", field=where or None
    )


def query_data(params: QueryParams, model: type[BaseModel]) -> dict[str, Any]:
    """The model's fields from the query string; a list is given as repeated parameters,
    comma-separated values, or both. An empty value is a value (`?query=` is an empty query)."""
    data: dict[str, Any] = {}
    for name, info in model.model_fields.items():
        key = info.alias or name
        if key not in params:
            continue
        if typing.get_origin(info.annotation) is list:
            data[key] = [v.strip() for raw in params.getlist(key) for v in raw.split(",")]
        else:
            data[key] = params[key]
    return data


def header_data(headers: Headers, model: type[BaseModel]) -> dict[str, Any]:
    data: dict[str, Any] = {}
    for name, info in model.model_fields.items():
        key = info.alias or name
        if key in headers:
            data[key] = headers[key]
    return data


def validate(model: type[M], data: Any) -> M:
    """`data` as `model`, or the first problem as an InvalidInput naming its field."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise invalid_input(exc, model) from exc


def invalid_input(exc: ValidationError, model: type[BaseModel]) -> InvalidInput:
    errors = exc.errors(include_url=False, include_input=False)
    first = errors[0]
    loc = first["loc"]
    if not loc:
        return InvalidInput("request body must be a JSON object")
    where, parent = location(loc), location(loc[:-1])
    if first["type"] == "extra_forbidden":
        unknown = sorted(
            str(e["loc"][-1])
            for e in errors
            if e["type"] == "extra_forbidden" and e["loc"][:-1] == loc[:-1]
        )
        if parent:
            return InvalidInput(f"unknown field(s) {unknown} in '{parent}'", field=where)
        allowed = sorted(info.alias or name for name, info in model.model_fields.items())
        return InvalidInput(f"unknown field(s) {unknown}; allowed: {allowed}", field=where)
    if isinstance(loc[-1], int) or not parent:
        return InvalidInput(describe(first, where), field=where)
    return InvalidInput(f"{parent}: {describe(first, str(loc[-1]))}", field=where)


def location(loc: tuple[int | str, ...]) -> str:
    """('messages', 3, 'content') -> 'messages[3].content'."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else part
    return out


def describe(error: ErrorDetails, name: str) -> str:
    """One sentence about one pydantic error, in our words."""
    kind, ctx = error["type"], error.get("ctx", {})
    subject = f"'{name}'"
    phrases = {
        "missing": "is required",
        "model_type": "must be an object",
        "model_attributes_type": "must be an object",
        "dict_type": "must be an object",
        "string_type": "must be a string",
        "int_type": "must be a whole number",
        "int_parsing": "must be a whole number",
        "int_from_float": "must be a whole number",
        "float_type": "must be a number",
        "float_parsing": "must be a number",
        "finite_number": "must be a finite number",
        "bool_type": "must be true or false",
        "bool_parsing": "must be true or false",
        "list_type": "must be a list",
    }
    if kind in phrases:
        return f"{subject} {phrases[kind]}"
    if kind == "string_too_short":
        return f"{subject} must not be empty"
    if kind == "string_too_long":
        return f"{subject} is over its limit of {ctx['max_length']} characters"
    if kind == "too_short":
        return f"{subject} must hold at least {ctx['min_length']} item(s)"
    if kind == "too_long":
        return f"{subject} holds {ctx['actual_length']} items; the limit is {ctx['max_length']}"
    if kind in ("greater_than_equal", "greater_than", "less_than_equal", "less_than"):
        bound = {"greater_than_equal": "at least", "greater_than": "more than"}
        bound |= {"less_than_equal": "at most", "less_than": "less than"}
        value = ctx.get("ge", ctx.get("gt", ctx.get("le", ctx.get("lt"))))
        return f"{subject} must be {bound[kind]} {value}"
    if kind == "literal_error":
        return f"{subject} must be one of {ctx['expected']}"
    if kind == "string_pattern_mismatch":
        return f"{subject} must match {ctx['pattern']}"
    if kind == "value_error":
        return f"{subject} {ctx['error']}"  # our validators raise a predicate: "must be ..."
    return f"{subject}: {error['msg']}"
