from __future__ import annotations

import anyio.to_thread
from starlette.testclient import TestClient

from agent_runtime.core.settings import Settings
from agent_runtime.runtime import Runtime
from server.app import create_app


def test_the_request_thread_pool_holds_as_many_turns_as_configured(
    settings: Settings, runtime: Runtime
) -> None:
    app = create_app(settings.with_(request_threads=300), runtime=runtime, workers=0, extraction=0)
    with TestClient(app, base_url="http://127.0.0.1", client=("127.0.0.1", 50000)) as client:
        assert client.get("/v1/health").status_code == 200
        tokens = client.portal.call(  # type: ignore[union-attr]
            lambda: anyio.to_thread.current_default_thread_limiter().total_tokens
        )
    assert tokens == 300  # Starlette's own default, 40, would queue the 41st waiting turn
