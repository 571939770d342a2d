"""The `recalld` command in-process (typer's runner: stdin and stdout are not terminals)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cli.main import app

# Nothing listens here: a command that got as far as the server would say it cannot reach it.
NOWHERE = "http://127.0.0.1:9"


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


@pytest.mark.parametrize(
    "command",
    [[], ["agents", "create"], ["agents", "delete"], ["archival", "search"], ["jobs", "submit"]],
)
def test_help_shows_no_value_for_flags(runner: CliRunner, command: list[str]) -> None:
    shown = runner.invoke(app, [*command, "--help"])
    assert shown.exit_code == 0, shown.output
    assert "<bool>" not in shown.output and "list[str]" not in shown.output
    assert "╭" not in shown.output  # no panels drawn for a terminal that is not there


def test_the_schedule_option_says_when_runs_happen(runner: CliRunner) -> None:
    shown = " ".join(runner.invoke(app, ["jobs", "submit", "--help"]).output.split())
    assert "--every <schedule>" in shown
    assert "first run now" in shown and "in UTC" in shown
    assert "Cancelling any of its runs stops the schedule" in shown


def test_delete_without_a_terminal_needs_yes(runner: CliRunner) -> None:
    refused = runner.invoke(app, ["--url", NOWHERE, "agents", "delete", "helper"], input="n\n")
    assert refused.exit_code == 2
    assert refused.stderr == "not deleting helper: with no terminal to confirm on, add --yes\n"
    tried = runner.invoke(app, ["--url", NOWHERE, "agents", "delete", "helper", "--yes"])
    assert tried.exit_code == 1 and "cannot reach the recalld server" in tried.stderr


def test_the_first_key_says_how_to_reach_agents_made_before_it(
    runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RECALLD_HOME", str(tmp_path))
    tenant = "a-tenant-whose-name-is-long-enough-to-pass-eighty-columns"
    made = runner.invoke(app, ["keys", "create", "--tenant", tenant])
    assert made.exit_code == 0, made.output
    title, key = made.stdout.splitlines()
    assert title == f"API key for tenant {tenant} (shown once):"  # whole, though past 80
    assert key.startswith("rk_")
    assert made.stderr.splitlines() == [
        "From now on every request needs an API key.",
        f"Agents made before the first key belong to tenant 'default', not '{tenant}'; "
        "to reach them, make a key for it: recalld keys create --tenant default",
    ]
    again = runner.invoke(app, ["keys", "create", "--tenant", "default", "--json"])
    assert json.loads(again.stdout)["tenant"] == "default" and again.stderr == ""
