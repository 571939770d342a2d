"""`recalld jobs` in-process; the commands against a real server are in test_live.py."""

from __future__ import annotations

from typer.testing import CliRunner

from cli.main import app


def test_the_schedule_option_says_when_runs_happen(runner: CliRunner) -> None:
    shown = " ".join(runner.invoke(app, ["jobs", "submit", "--help"]).output.split())
    assert "--every <schedule>" in shown
    assert "first run now" in shown and "in UTC" in shown
    assert "Cancelling any of its runs stops the schedule" in shown
