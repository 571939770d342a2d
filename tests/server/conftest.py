from __future__ import annotations

from collections.abc import Iterator

import pytest
from starlette.applications import Starlette
from starlette.testclient import TestClient

from agent_runtime.core.settings import Settings
from agent_runtime.runtime import Runtime
from server.app import create_app


@pytest.fixture
def app(settings: Settings, runtime: Runtime) -> Starlette:
    return create_app(settings, runtime=runtime, workers=0, extraction=0)


@pytest.fixture
def client(app: Starlette) -> Iterator[TestClient]:
    with TestClient(app, base_url="http://127.0.0.1", client=("127.0.0.1", 50000)) as test_client:
        yield test_client
