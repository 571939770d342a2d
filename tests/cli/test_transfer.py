"""`recalld agents export` and `recalld agents import` against a real `recalld serve`."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from live_server import LiveServer
from typer.testing import CliRunner

from cli.main import app


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    live = LiveServer(tmp_path_factory.mktemp("recalld-home")).start()
    yield live
    live.stop()


def test_export_then_import_and_the_other_formats(
    server: LiveServer, runner: CliRunner, tmp_path: Path
) -> None:
    def run(*args: str, code: int = 0) -> str:
        result = runner.invoke(app, ["--url", server.url, *args])
        assert result.exit_code == code, result.output
        return result.stdout if code == 0 else result.stderr

    run("agents", "create", "original", "--human", "Name: Ada")
    run("archival", "insert", "original", "Ada's locker code is 4471")
    saved = tmp_path / "original.json"
    assert "exported original" in run("agents", "export", "original", "-o", str(saved))
    document = json.loads(saved.read_text())
    assert document["format"] == "recalld.agent" and len(document["passages"]) == 1
    shown = run("agents", "import", str(saved), "--name", "copy")
    assert "created copy" in shown and "1 passages" in shown
    found = json.loads(run("archival", "search", "copy", "locker code", "--json"))
    assert found[0]["text"] == "Ada's locker code is 4471"
    assert "already exists" in run("agents", "import", str(saved), code=1)

    letta = tmp_path / "sam.af"
    letta.write_text(
        json.dumps(
            {
                "name": "sam",
                "llm_config": {"model": "unknown-model-x"},
                "core_memory": [{"label": "human", "value": "Name: Chad", "limit": 100}],
                "messages": [
                    {"role": "user", "content": "hello", "created_at": "2025-01-01T00:00:00Z"}
                ],
                "tools": [{"name": "web_search"}],
            }
        )
    )
    shown = run("agents", "import", str(letta))
    assert "created sam" in shown and "skipped: tool 'web_search'" in shown

    mem0 = tmp_path / "mem0.json"
    mem0.write_text(json.dumps([{"id": "1", "memory": "Likes tea", "user_id": "kim"}]))
    assert "1 memories → 1 facts" in run("agents", "import", str(mem0))

    document["messages"] = [{"role": "narrator", "content": "x", "created_at": "2025-01-01"}]
    broken = tmp_path / "broken.json"
    broken.write_text(json.dumps(document))
    refused = run("agents", "import", str(broken), "--name", "never", code=1)
    assert "messages[0].role" in refused
    assert "never" not in run("agents", "list")
    garbage = tmp_path / "garbage.json"
    garbage.write_text("{not json")
    assert "is not JSON" in run("agents", "import", str(garbage), code=2)
