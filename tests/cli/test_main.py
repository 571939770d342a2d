"""The assembled `recalld` app: plain help for every group, and the global options reaching the
commands through typer's context."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from cli import agents
from cli.main import app
from cli.options import Options


@pytest.mark.parametrize(
    "command",
    [
        [],
        ["agents", "create"],
        ["agents", "delete"],
        ["archival", "search"],
        ["jobs", "submit"],
        ["tools", "mcp-add"],
    ],
)
def test_help_shows_no_value_for_flags(runner: CliRunner, command: list[str]) -> None:
    shown = runner.invoke(app, [*command, "--help"])
    assert shown.exit_code == 0, shown.output
    assert "<bool>" not in shown.output and "list[str]" not in shown.output
    assert "╭" not in shown.output  # no panels drawn for a terminal that is not there


def test_the_root_help_lists_every_command_and_group_in_order(runner: CliRunner) -> None:
    shown = runner.invoke(app, ["--help"]).output
    listed = [line.split()[0] for line in shown.split("Commands:\n")[1].splitlines() if line]
    assert listed == [
        "serve",
        "chat",
        "worker",
        "doctor",
        "mcp",
        "agents",
        "memory",
        "memories",
        "archival",
        "keys",
        "jobs",
        "tools",
    ]


def test_an_error_is_one_line_and_debug_adds_the_traceback(runner: CliRunner, nowhere: str) -> None:
    plain = runner.invoke(app, ["--url", nowhere, "agents", "list"])
    assert plain.exit_code == 1
    [line] = plain.stderr.splitlines()
    assert line.startswith(f"error: cannot reach the recalld server at {nowhere} (")
    debug = runner.invoke(app, ["--url", nowhere, "--debug", "agents", "list"])
    assert debug.exit_code == 1
    assert debug.stderr.startswith("Traceback") and debug.stderr.endswith(line + "\n")


def test_the_url_comes_from_the_environment_without_the_flag(
    runner: CliRunner, nowhere: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RECALLD_URL", nowhere)
    tried = runner.invoke(app, ["jobs", "list"])
    assert tried.exit_code == 1 and f"cannot reach the recalld server at {nowhere}" in tried.stderr


def test_a_group_runs_on_its_own_with_options_passed_in(runner: CliRunner, nowhere: str) -> None:
    tried = runner.invoke(agents.app, ["show", "helper"], obj=Options(nowhere, None, False))
    assert tried.exit_code == 1 and f"cannot reach the recalld server at {nowhere}" in tried.stderr
    without = runner.invoke(agents.app, ["show", "helper"])
    assert isinstance(without.exception, TypeError) and "not Options" in str(without.exception)
