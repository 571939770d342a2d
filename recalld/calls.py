"""Requests as data, and the two descriptors that run them sync or async.

Every operation of the API is written once, as a method that builds a `Call` (method, path,
query, JSON body, headers, and how to read the answer) or a `Stream` (the same, plus a decoder
of the streamed bytes). Decorated with `@endpoint` or `@streaming`, that method becomes, on a
`recalld.Client`, a function that sends the call with httpx's sync client and returns the result;
on a `recalld.AsyncClient`, a coroutine function (or an async iterator for a stream) that does
the same with httpx's async client. The descriptor picks by the kind of runner it is read from
(`SyncRunner` or `AsyncRunner`), so the types follow too: `Client.get_agent(...) -> JSON`,
`AsyncClient.get_agent(...) -> Awaitable[JSON]`. Nothing about a route is written twice; only
the two small runners (send a request, open a stream) know which I/O they do.
"""

from __future__ import annotations

import functools
import json
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Concatenate, Generic, ParamSpec, Protocol, TypeVar, overload

import httpx

from recalld.errors import error_from_response

if TYPE_CHECKING:
    from recalld.aio import AsyncRunner
    from recalld.client import SyncRunner

JSON = dict[str, Any]
T = TypeVar("T")
P = ParamSpec("P")


def as_json(body: Any) -> JSON:
    """An answer's JSON object, as the server sent it."""
    return body  # type: ignore[no-any-return]


def nothing(_body: Any) -> None:
    """A 204's (absent) answer."""


@dataclass(frozen=True)
class Call(Generic[T]):
    """One request, and how to turn its decoded JSON answer (None for a 204) into the result."""

    method: str
    path: str
    read: Callable[[Any], T]
    params: dict[str, Any] = field(default_factory=dict)
    json: Any = None  # None: no body (a JSON body is never null)
    headers: dict[str, str] = field(default_factory=dict)


def call(
    method: str,
    path: str,
    *,
    params: dict[str, Any] | None = None,
    json: Any = None,
    headers: dict[str, str] | None = None,
) -> Call[JSON]:
    """A call whose result is the answer's JSON object."""
    return Call(method, path, as_json, params or {}, json, headers or {})


class Decoder(Protocol[T]):
    """Turns a streamed body, piece by piece, into items."""

    def feed(self, chunk: bytes) -> list[T]: ...

    def close(self) -> list[T]: ...


@dataclass(frozen=True)
class Stream(Generic[T]):
    """A request whose answer is read as it arrives, through a fresh decoder."""

    method: str
    path: str
    decoder: Callable[[], Decoder[T]]
    params: dict[str, Any] = field(default_factory=dict)
    json: Any = None
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Event:
    """One Server-Sent Event: a streamed turn's step, or a job's progress.

    A turn streams `user_message`, `assistant_message`, `tool_call`, `tool_result` and `done`;
    any stream may end with an `error` event (its data `{"error": {"code", "message"}}`) when
    the failure came after the response had started."""

    kind: str
    data: JSON
    id: str | None = None


class SSEDecoder:
    """Server-Sent Events from a byte stream (the fields recalld sends: event, id, data)."""

    def __init__(self) -> None:
        self._buffer = b""
        self._kind = "message"
        self._id: str | None = None
        self._data: list[str] = []

    def feed(self, chunk: bytes) -> list[Event]:
        self._buffer += chunk
        *lines, self._buffer = self._buffer.split(b"\n")
        return [e for line in lines if (e := self._line(line.rstrip(b"\r").decode())) is not None]

    def close(self) -> list[Event]:
        tail = [self._line(self._buffer.rstrip(b"\r").decode())] if self._buffer else []
        self._buffer = b""
        return [e for e in [*tail, self._line("")] if e is not None]

    def _line(self, line: str) -> Event | None:
        if not line:
            ready = None
            if self._data:
                ready = Event(self._kind, json.loads("\n".join(self._data)), self._id)
            self._kind, self._id, self._data = "message", None, []
            return ready
        name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if name == "event":
            self._kind = value
        elif name == "id":
            self._id = value
        elif name == "data":
            self._data.append(value)
        return None


class Chunks:
    """The body's bytes as they arrive (an export)."""

    def feed(self, chunk: bytes) -> list[bytes]:
        return [chunk] if chunk else []

    def close(self) -> list[bytes]:
        return []


def result(response: httpx.Response) -> Any:
    """The decoded JSON answer (None for a 204), or the error it carries, raised."""
    if response.status_code >= 400:
        raise error_from_response(response)
    if response.status_code == 204 or not response.content:
        return None
    return response.json()


class endpoint(Generic[P, T]):  # lower case: used as a decorator
    """A method building a `Call`, offered as a method that runs it (see the module docstring)."""

    def __init__(self, build: Callable[Concatenate[Any, P], Call[T]]) -> None:
        self.build = build
        self.__doc__ = build.__doc__

    @overload
    def __get__(self, runner: None, owner: type[Any]) -> endpoint[P, T]: ...
    @overload
    def __get__(self, runner: SyncRunner, owner: type[Any]) -> Callable[P, T]: ...
    @overload
    def __get__(self, runner: AsyncRunner, owner: type[Any]) -> Callable[P, Awaitable[T]]: ...
    def __get__(self, runner: Any, owner: type[Any]) -> Any:
        if runner is None:
            return self
        build = self.build

        @functools.wraps(build)
        def run(*args: P.args, **kwargs: P.kwargs) -> Any:
            return runner._execute(build(runner, *args, **kwargs))

        return run


class streaming(Generic[P, T]):  # lower case: used as a decorator
    """A method building a `Stream`, offered as a method returning an iterator of its items
    (sync or async by the runner)."""

    def __init__(self, build: Callable[Concatenate[Any, P], Stream[T]]) -> None:
        self.build = build
        self.__doc__ = build.__doc__

    @overload
    def __get__(self, runner: None, owner: type[Any]) -> streaming[P, T]: ...
    @overload
    def __get__(self, runner: SyncRunner, owner: type[Any]) -> Callable[P, Iterator[T]]: ...
    @overload
    def __get__(self, runner: AsyncRunner, owner: type[Any]) -> Callable[P, AsyncIterator[T]]: ...
    def __get__(self, runner: Any, owner: type[Any]) -> Any:
        if runner is None:
            return self
        build = self.build

        @functools.wraps(build)
        def run(*args: P.args, **kwargs: P.kwargs) -> Any:
            return runner._open(build(runner, *args, **kwargs))

        return run


def given(**values: Any) -> JSON:
    """The fields that were given (None is left out): a JSON body's or a query's."""
    return {k: v for k, v in values.items() if v is not None}


def query_params(**values: Any) -> JSON:
    """Query parameters: None and empty lists left out, lists joined by commas, booleans as
    true/false."""
    out: JSON = {}
    for key, value in values.items():
        if value is None or value == [] or value == ():
            continue
        if isinstance(value, bool):
            value = "true" if value else "false"
        out[key] = ",".join(value) if isinstance(value, list | tuple) else value
    return out
