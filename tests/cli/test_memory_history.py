"""`recalld memory history` and `recalld memory restore` against a real `recalld serve`."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from live_server import LiveServer
from typer.testing import CliRunner

from cli.main import app


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    live = LiveServer(tmp_path_factory.mktemp("recalld-home")).start()
    yield live
    live.stop()


def test_history_then_restore(server: LiveServer, runner: CliRunner) -> None:
    def run(*args: str) -> str:
        result = runner.invoke(app, ["--url", server.url, *args])
        assert result.exit_code == 0, result.output
        return result.stdout

    run("agents", "create", "keeper", "--human", "Name: Ada")
    run("memory", "edit", "keeper", "human", "--value", "Name: Ada (a bad edit)")
    shown = run("memory", "history", "keeper", "human")
    assert shown.index("v2") < shown.index("v1") and "a bad edit" in shown
    assert "restored v1 as v3" in run("memory", "restore", "keeper", "human", "1")
    blocks = json.loads(run("memory", "show", "keeper", "--json"))
    assert {b["label"]: b["value"] for b in blocks}["human"] == "Name: Ada"
    versions = json.loads(run("memory", "history", "keeper", "human", "--json"))
    assert [(v["version"], v["restored_from"]) for v in versions][:1] == [(3, 1)]
    missing = runner.invoke(app, ["--url", server.url, "memory", "restore", "keeper", "human", "9"])
    assert missing.exit_code == 1 and "no version 9" in missing.stderr
