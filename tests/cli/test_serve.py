"""`recalld serve` and `recalld worker` in-process; as real processes they are in test_live.py
and test_worker_crash.py."""

from __future__ import annotations

from typer.testing import CliRunner

from cli.main import app


def test_a_worker_needs_at_least_one_thread(runner: CliRunner) -> None:
    refused = runner.invoke(app, ["worker", "--concurrency", "0"])
    assert refused.exit_code == 1
    assert refused.stderr == "error: --concurrency must be at least 1\n"
