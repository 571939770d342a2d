"""`recalld keys`, which writes to the database under RECALLD_HOME directly."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cli.main import app


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
