"""An HTTP tool: a tenant's endpoint the model may call with JSON arguments.

The arguments are checked against the tool's JSON schema, sent as a JSON body, and the response
body (cut at `MAX_TOOL_RESPONSE_BYTES`) is the tool result. Every failure (invalid arguments, a
URL outside `RECALLD_ALLOWED_TOOL_URLS`, a timeout, a refused connection, an error status) is a
`ToolError`, which the turn hands back to the model; it never crashes the turn. The network sits
behind `HttpClient`: `HttpxClient` is the real one, `FakeHttpClient` records what it was sent.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import httpx
import jsonschema

from agent_runtime.core.errors import InvalidInput
from agent_runtime.core.limits import MAX_TOOL_RESPONSE_BYTES, MAX_TOOL_URL_CHARS
from agent_runtime.core.settings import ToolSecret
from agent_runtime.llm import endpoints
from agent_runtime.tools import secrets
from memory_tools import ToolError


@dataclass(frozen=True)
class HttpReply:
    status: int
    body: bytes
    truncated: bool = False


class HttpClient(Protocol):
    """Sends one request; raises ToolError on a timeout or a connection that fails."""

    def send(
        self, method: str, url: str, headers: Mapping[str, str], body: bytes, timeout: float
    ) -> HttpReply: ...

    def close(self) -> None: ...


class HttpxClient:
    """The real client: one pooled httpx client, reading at most `limit` bytes of a body."""

    def __init__(self, limit: int = MAX_TOOL_RESPONSE_BYTES) -> None:
        self._client = httpx.Client(follow_redirects=False)
        self._limit = limit

    def send(
        self, method: str, url: str, headers: Mapping[str, str], body: bytes, timeout: float
    ) -> HttpReply:
        content = None if method == "GET" else body
        try:
            with self._client.stream(
                method, url, headers=dict(headers), content=content, timeout=timeout
            ) as response:
                chunks: list[bytes] = []
                size = 0
                truncated = False
                for chunk in response.iter_bytes():
                    chunks.append(chunk)
                    size += len(chunk)
                    if size > self._limit:
                        truncated = True
                        break
                data = b"".join(chunks)[: self._limit]
                return HttpReply(response.status_code, data, truncated)
        except httpx.TimeoutException as exc:
            raise ToolError(f"the tool did not answer within {timeout:g} s") from exc
        except httpx.HTTPError as exc:
            raise ToolError(f"the tool could not be reached ({type(exc).__name__})") from exc

    def close(self) -> None:
        self._client.close()


@dataclass
class FakeHttpClient:
    """Answers from `reply` (a function of the request) and records every request."""

    reply: Callable[[str, str, Mapping[str, str], bytes], HttpReply] = lambda *_: HttpReply(
        200, b"{}"
    )
    sent: list[tuple[str, str, dict[str, str], bytes]] = field(default_factory=list)

    def send(
        self, method: str, url: str, headers: Mapping[str, str], body: bytes, timeout: float
    ) -> HttpReply:
        self.sent.append((method, url, dict(headers), body))
        return self.reply(method, url, headers, body)

    def close(self) -> None:
        pass


def allowed(url: str, prefixes: tuple[str, ...]) -> bool:
    """`url` lies under one of `prefixes` at a path boundary (as a model base URL must)."""
    return any(endpoints.under(url, prefix) for prefix in prefixes)


def check_destination(
    url: str,
    headers: Mapping[str, str],
    allowed_urls: tuple[str, ...],
    known: Mapping[str, ToolSecret],
) -> None:
    """A saved tool's (or MCP server's) URL is well formed and allowed, and every secret its
    headers name may go there (InvalidInput naming the field if not)."""
    endpoints.check_syntax(url, "url", MAX_TOOL_URL_CHARS)
    if not allowed(url, allowed_urls):
        raise InvalidInput(
            "url must start with a prefix in RECALLD_ALLOWED_TOOL_URLS"
            + ("" if allowed_urls else " (none is set: no tool may call out)"),
            field="url",
        )
    secrets.check(headers, url, known)


def _well_formed(url: str) -> bool:
    """`url` passes the syntax check (a tool saved before a check was added may not)."""
    try:
        endpoints.check_syntax(url, "url", MAX_TOOL_URL_CHARS)
    except InvalidInput:
        return False
    return True


def check_schema(parameters: dict[str, Any]) -> None:
    """`parameters` is a valid JSON schema for an object of arguments (InvalidInput if not)."""
    try:
        jsonschema.Draft202012Validator.check_schema(parameters)
    except jsonschema.SchemaError as exc:
        raise InvalidInput(f"parameters is not a valid JSON schema: {exc.message}") from exc
    if parameters.get("type") != "object":
        raise InvalidInput('parameters must be a schema of "type": "object"', field="parameters")


def check_arguments(name: str, parameters: dict[str, Any], arguments: dict[str, Any]) -> None:
    """ToolError naming the first argument that breaks the tool's schema."""
    errors = sorted(
        jsonschema.Draft202012Validator(parameters).iter_errors(arguments),
        key=lambda e: list(e.path),
    )
    if errors:
        where = "/".join(str(p) for p in errors[0].path) or "arguments"
        raise ToolError(f"invalid arguments for {name}: {where}: {errors[0].message}")


@dataclass(frozen=True)
class HttpTool:
    name: str
    description: str
    parameters: dict[str, Any]
    url: str
    method: str = "POST"
    headers: dict[str, str] = field(default_factory=dict)  # values keep ${secret:NAME}

    def schema(self) -> dict[str, Any]:
        """The function schema the model sees (never the URL or headers)."""
        return {"name": self.name, "description": self.description, "parameters": self.parameters}


@dataclass(frozen=True)
class Caller:
    """What a call needs from the server: the client, the allow-list, secrets, a timeout."""

    client: HttpClient
    allowed_urls: tuple[str, ...]
    secrets: Mapping[str, ToolSecret]
    timeout: float

    def call(self, tool: HttpTool, arguments: dict[str, Any]) -> str:
        check_arguments(tool.name, tool.parameters, arguments)
        if not allowed(tool.url, self.allowed_urls) or not _well_formed(tool.url):
            raise ToolError(f"{tool.name}'s URL is not allowed on this server any more")
        headers = {"Content-Type": "application/json"} | secrets.resolve(
            tool.headers, tool.url, self.secrets
        )
        body = json.dumps(arguments).encode()
        reply = self.client.send(tool.method, tool.url, headers, body, self.timeout)
        text = reply.body.decode("utf-8", errors="replace")
        if reply.truncated:
            text += f"\n[... cut at {len(reply.body)} bytes]"
        if reply.status >= 400:
            raise ToolError(f"{tool.name} answered HTTP {reply.status}: {text[:2000]}")
        return text
