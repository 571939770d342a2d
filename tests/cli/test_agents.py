"""`recalld agents` in-process; the commands against a real server are in test_live.py."""

from __future__ import annotations

from typer.testing import CliRunner

from cli.main import app


def test_delete_without_a_terminal_needs_yes(runner: CliRunner, nowhere: str) -> None:
    refused = runner.invoke(app, ["--url", nowhere, "agents", "delete", "helper"], input="n\n")
    assert refused.exit_code == 2
    assert refused.stderr == "not deleting helper: with no terminal to confirm on, add --yes\n"
    tried = runner.invoke(app, ["--url", nowhere, "agents", "delete", "helper", "--yes"])
    assert tried.exit_code == 1 and "cannot reach the recalld server" in tried.stderr
