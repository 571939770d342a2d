"""`AsyncClient`: the recalld REST API over httpx's async client.

The same methods as `Client` (both come from `recalld.api`), each a coroutine function here,
and the streams (`stream`, `export_agent`, `jobs.events`) async iterators. `AsyncRunner` is the
only code here that does I/O.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Self, TypeVar

import httpx

from recalld.api import Api
from recalld.calls import Call, Stream, result
from recalld.client import DEFAULT_URL
from recalld.errors import unreachable
from recalld.namespaces import JobsApi, KeysApi, ToolsApi

T = TypeVar("T")


class AsyncRunner:
    """Runs calls and streams with one `httpx.AsyncClient`."""

    def __init__(self, http: httpx.AsyncClient, url: str) -> None:
        self._http = http
        self.url = url

    async def _execute(self, call: Call[T]) -> T:
        try:
            response = await self._http.request(
                call.method, call.path, params=call.params, json=call.json, headers=call.headers
            )
        except httpx.TransportError as exc:
            raise unreachable(self.url, exc) from exc
        return call.read(result(response))

    async def _open(self, stream: Stream[T]) -> AsyncIterator[T]:
        decoder = stream.decoder()
        request = self._http.build_request(
            stream.method,
            stream.path,
            params=stream.params,
            json=stream.json,
            headers=stream.headers,
        )
        try:
            response = await self._http.send(request, stream=True)
        except httpx.TransportError as exc:
            raise unreachable(self.url, exc) from exc
        try:
            if response.status_code >= 400:
                await response.aread()
                result(response)
            async for chunk in response.aiter_bytes():
                for item in decoder.feed(chunk):
                    yield item
            for item in decoder.close():
                yield item
        except httpx.TransportError as exc:
            raise unreachable(self.url, exc) from exc
        finally:
            await response.aclose()


class AsyncJobs(JobsApi, AsyncRunner):
    """`AsyncClient.jobs`."""


class AsyncTools(ToolsApi, AsyncRunner):
    """`AsyncClient.tools`."""


class AsyncKeys(KeysApi, AsyncRunner):
    """`AsyncClient.keys`."""


class AsyncClient(Api, AsyncRunner):
    """The recalld REST API, asynchronously. Use it with `async with`, or await `aclose()`."""

    def __init__(
        self,
        url: str = DEFAULT_URL,
        api_key: str | None = None,
        timeout: float = 300.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        url = url.rstrip("/")
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        http = httpx.AsyncClient(
            base_url=url, headers=headers, timeout=timeout, transport=transport
        )
        super().__init__(http, url)
        self.jobs = AsyncJobs(http, url)
        self.keys = AsyncKeys(http, url)
        self.tools = AsyncTools(http, url)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()
