from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import pytest
import uvicorn
from live_server import free_port
from starlette.applications import Starlette
from starlette.testclient import TestClient

from agent_runtime.runtime import Runtime


def explode(*_args: object, **_kwargs: object) -> None:
    raise RuntimeError("secret internals")


def test_a_405_says_which_methods_the_path_allows(client: TestClient) -> None:
    response = client.put("/v1/agents")
    assert response.status_code == 405
    assert response.json()["error"]["code"] == "method_not_allowed"
    assert set(response.headers["allow"].split(", ")) == {"GET", "HEAD", "POST"}
    passage = client.get("/v1/agents/a/archival/1")
    assert passage.status_code == 405 and passage.headers["allow"] == "DELETE"


def test_an_unexpected_error_is_answered_not_raised(client: TestClient, runtime: Runtime) -> None:
    runtime.list_agents = explode  # type: ignore[method-assign]
    response = client.get("/v1/agents")  # the client raises whatever the app re-raises
    assert response.status_code == 500
    assert response.json() == {"error": {"code": "internal", "message": "internal server error"}}


@pytest.fixture
def server(app: Starlette) -> Iterator[int]:
    """The app behind a real uvicorn on a loopback port, in this process."""
    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="critical")
    served = uvicorn.Server(config)
    thread = threading.Thread(target=served.run, daemon=True)
    thread.start()
    for _ in range(200):  # bounded: 10 s
        if served.started:
            break
        threading.Event().wait(0.05)
    try:
        yield port
    finally:
        served.should_exit = True
        thread.join(10)


def exchange(conn: socket.socket, path: str) -> bytes:
    """One GET on a kept-alive connection; the whole response (framed by Content-Length)."""
    conn.sendall(f"GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n".encode())
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            return data
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = next(
        int(line.split(b":")[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length")
    )
    while len(body) < length:
        chunk = conn.recv(65536)
        if not chunk:
            break
        body += chunk
    return head + b"\r\n\r\n" + body


def test_a_500_leaves_the_connection_usable(server: int, runtime: Runtime) -> None:
    runtime.list_agents = explode  # type: ignore[method-assign]
    with socket.create_connection(("127.0.0.1", server), timeout=10) as conn:
        failed = exchange(conn, "/v1/agents")
        assert failed.startswith(b"HTTP/1.1 500")
        assert b'"code":"internal"' in failed.replace(b" ", b"")
        assert exchange(conn, "/v1/health").startswith(b"HTTP/1.1 200")
