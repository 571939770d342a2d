from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from agent_runtime.core.settings import PREFIX, Settings
from agent_runtime.embedding.fake import FakeEmbedder
from agent_runtime.llm.scripted import ScriptedLLM
from agent_runtime.retrieval.vector_index import MemoryIndex
from agent_runtime.runtime import Runtime

# Read before the autouse fixture below clears every RECALLD_ variable for the tests themselves.
PG_URL = os.environ.get("RECALLD_TEST_PG_URL", "")
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in list(os.environ):
        if key.startswith(PREFIX):
            monkeypatch.delenv(key)


def _fresh_pg_database() -> tuple[str, str]:
    import psycopg

    name = "recalld_t_" + uuid.uuid4().hex[:12]
    with psycopg.connect(PG_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base = PG_URL.rsplit("/", 1)[0]
    return name, f"{base}/{name}"


def _drop_pg_database(name: str) -> None:
    import psycopg

    with psycopg.connect(PG_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", "postgres"])
def backend(request: pytest.FixtureRequest) -> str:
    if request.param == "postgres" and not PG_URL:
        pytest.skip("RECALLD_TEST_PG_URL is not set")
    return str(request.param)


@pytest.fixture
def database_url(backend: str, tmp_path: Path) -> Iterator[str | None]:
    if backend == "sqlite":
        yield None
        return
    name, url = _fresh_pg_database()
    try:
        yield url
    finally:
        _drop_pg_database(name)


@pytest.fixture
def settings(tmp_path: Path, database_url: str | None) -> Settings:
    return Settings(home=tmp_path / "home", database_url=database_url, busy_wait_seconds=2.0)


@pytest.fixture
def fake_llm() -> ScriptedLLM:
    return ScriptedLLM()


@pytest.fixture
def vector_index() -> MemoryIndex:
    return MemoryIndex()


@pytest.fixture
def runtime(
    settings: Settings, fake_llm: ScriptedLLM, vector_index: MemoryIndex
) -> Iterator[Runtime]:
    rt = Runtime(
        settings, llm=fake_llm, embedder_factory=lambda _name: FakeEmbedder(), index=vector_index
    )
    try:
        yield rt
    finally:
        rt.close()
