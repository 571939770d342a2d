"""`Client`: the recalld REST API over httpx's sync client.

Its methods come from `recalld.api` (each operation written once as the request it sends);
`SyncRunner` is the only code here that does I/O: send a `Call`, or open a `Stream` and yield
its items as they arrive.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Self, TypeVar

import httpx

from recalld.api import Api
from recalld.calls import Call, Stream, result
from recalld.errors import unreachable
from recalld.namespaces import JobsApi, KeysApi, ToolsApi

DEFAULT_URL = "http://127.0.0.1:8300"
T = TypeVar("T")


class SyncRunner:
    """Runs calls and streams with one `httpx.Client`."""

    def __init__(self, http: httpx.Client, url: str) -> None:
        self._http = http
        self.url = url

    def _execute(self, call: Call[T]) -> T:
        try:
            response = self._http.request(
                call.method, call.path, params=call.params, json=call.json, headers=call.headers
            )
        except httpx.TransportError as exc:
            raise unreachable(self.url, exc) from exc
        return call.read(result(response))

    def _open(self, stream: Stream[T]) -> Iterator[T]:
        decoder = stream.decoder()
        request = self._http.build_request(
            stream.method,
            stream.path,
            params=stream.params,
            json=stream.json,
            headers=stream.headers,
        )
        try:
            response = self._http.send(request, stream=True)
        except httpx.TransportError as exc:
            raise unreachable(self.url, exc) from exc
        try:
            if response.status_code >= 400:
                response.read()
                result(response)
            for chunk in response.iter_bytes():
                yield from decoder.feed(chunk)
            yield from decoder.close()
        except httpx.TransportError as exc:
            raise unreachable(self.url, exc) from exc
        finally:
            response.close()


class Jobs(JobsApi, SyncRunner):
    """`Client.jobs`."""


class Tools(ToolsApi, SyncRunner):
    """`Client.tools`."""


class Keys(KeysApi, SyncRunner):
    """`Client.keys`."""


class Client(Api, SyncRunner):
    """The recalld REST API, synchronously. Use it as a context manager, or call `close()`.

    `api_key` is sent as a bearer token (a keyless loopback server needs none); `transport`
    replaces httpx's (for instance an `httpx.MockTransport` in tests)."""

    def __init__(
        self,
        url: str = DEFAULT_URL,
        api_key: str | None = None,
        timeout: float = 300.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        url = url.rstrip("/")
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        http = httpx.Client(base_url=url, headers=headers, timeout=timeout, transport=transport)
        super().__init__(http, url)
        self.jobs = Jobs(http, url)
        self.keys = Keys(http, url)
        self.tools = Tools(http, url)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()
