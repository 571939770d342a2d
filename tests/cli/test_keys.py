"""`recalld keys`: through a real `recalld serve` process with an admin key, and with --local in
the database directly (SQLite under RECALLD_HOME, or RECALLD_DATABASE_URL)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from click.testing import Result
from live_server import LiveServer
from typer.testing import CliRunner

from cli.main import app

Recalld = Callable[..., Result]


# -- --local ---------------------------------------------------------------------------------


@pytest.fixture
def local(
    runner: CliRunner, tmp_path: Path, database_url: str | None, monkeypatch: pytest.MonkeyPatch
) -> Recalld:
    """Run `recalld keys ... ` in-process on a database of its own."""
    monkeypatch.setenv("RECALLD_HOME", str(tmp_path))
    if database_url is not None:
        monkeypatch.setenv("RECALLD_DATABASE_URL", database_url)

    def run(*args: str) -> Result:
        return runner.invoke(app, ["keys", *args])

    return run


def test_the_first_key_says_how_to_reach_agents_made_before_it(local: Recalld) -> None:
    tenant = "a-tenant-whose-name-is-long-enough-to-pass-eighty-columns"
    made = local("create", "--local", "--tenant", tenant)
    assert made.exit_code == 0, made.output
    title, key = made.stdout.splitlines()
    assert re.fullmatch(rf"admin key #1 key-rk_\S{{5}} for tenant {tenant} \(shown once\):", title)
    assert key.startswith("rk_")
    assert made.stderr.splitlines() == [
        "From now on every request needs an API key.",
        f"Agents made before the first key belong to tenant 'default', not '{tenant}'; "
        "to reach them, make a key for it: recalld keys create --local --tenant default",
    ]
    again = local("create", "--local", "--tenant", "default", "--name", "ops", "--json")
    shown = json.loads(again.stdout)
    assert (shown["tenant"], shown["name"], shown["role"]) == ("default", "ops", "admin")
    assert shown["key"].startswith(shown["prefix"]) and again.stderr == ""


def test_local_needs_a_tenant(local: Recalld) -> None:
    refused = local("create", "--local")
    assert refused.exit_code == 2 and "--local needs --tenant" in refused.output
    assert json.loads(local("list", "--local", "--json").stdout) == []


def test_list_and_revoke_locally_across_tenants(local: Recalld) -> None:
    acme = json.loads(local("create", "--local", "--tenant", "acme", "--json").stdout)
    member = ["--role", "member", "--name", "bot", "--json"]
    globex = json.loads(local("create", "--local", "--tenant", "globex", *member).stdout)
    listed = local("list", "--local", "--json")
    assert [(k["tenant"], k["role"]) for k in json.loads(listed.stdout)] == [
        ("acme", "admin"),
        ("globex", "member"),
    ]
    assert acme["key"] not in listed.stdout and globex["key"] not in listed.stdout
    only = json.loads(local("list", "--local", "--tenant", "globex", "--json").stdout)
    assert [k["id"] for k in only] == [globex["id"]]

    revoked = local("revoke", str(globex["id"]), "--local")
    assert revoked.exit_code == 0, revoked.output
    assert (
        revoked.stdout
        == f"revoked key #{globex['id']} bot ({globex['prefix']}…) of tenant globex\n"
    )
    assert revoked.stderr == "Running servers refuse it within a minute.\n"
    table = local("list", "--local").stdout.splitlines()
    assert len(table) == 2 and table[0].endswith("active") and "revoked 20" in table[1]
    assert "used never" in table[1]

    missing = local("revoke", "99", "--local")
    assert missing.exit_code == 1 and missing.stderr == "error: no API key 99\n"


# -- through the server ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    live = LiveServer(tmp_path_factory.mktemp("recalld-home")).start()
    yield live
    live.stop()


@pytest.fixture(scope="module")
def admin(server: LiveServer) -> str:
    """The server's first admin key, made as the operator would: --local, on its machine."""
    made = server.cli("keys", "create", "--local", "--tenant", "acme", "--json")
    assert made.returncode == 0, made.stderr
    return str(json.loads(made.stdout)["key"])


@pytest.fixture
def recalld(server: LiveServer, runner: CliRunner) -> Callable[..., Result]:
    """Run `recalld --url <server> [--key KEY] keys ...` in-process."""

    def run(*args: str, key: str | None = None) -> Result:
        given = ["--key", key] if key else []
        return runner.invoke(app, ["--url", server.url, *given, "keys", *args])

    return run


def agents(server: LiveServer, key: str) -> int:
    """The status `GET /v1/agents` answers with `key`."""
    headers = {"Authorization": f"Bearer {key}"}
    return httpx.get(f"{server.url}/v1/agents", headers=headers, timeout=10).status_code


def test_without_any_key_the_server_points_to_local(tmp_path: Path, runner: CliRunner) -> None:
    live = LiveServer(tmp_path).start()
    try:
        refused = runner.invoke(app, ["--url", live.url, "keys", "create", "--tenant", "default"])
        assert refused.exit_code == 1
        assert "recalld keys create --local --tenant default" in refused.stderr
        health = httpx.get(f"{live.url}/v1/health", timeout=10).json()
        assert health["auth"] == "loopback_only"  # the API made no key
    finally:
        live.stop()


def test_an_admin_makes_lists_and_revokes_keys_through_the_server(
    server: LiveServer, admin: str, recalld: Callable[..., Result]
) -> None:
    made = recalld("create", "--name", "ci-bot", key=admin)
    assert made.exit_code == 0, made.output
    title, member = made.stdout.splitlines()
    assert re.fullmatch(r"member key #\d+ ci-bot for tenant acme \(shown once\):", title)
    assert made.stderr == ""
    assert agents(server, member) == 200

    listed = recalld("list", "--json", key=admin)
    rows = {k["name"]: k for k in json.loads(listed.stdout)}
    assert rows["ci-bot"]["role"] == "member" and rows["ci-bot"]["revoked_at"] is None
    assert member not in listed.stdout and admin not in listed.stdout
    assert all("key" not in k for k in rows.values())

    key_id = rows["ci-bot"]["id"]
    revoked = recalld("revoke", str(key_id), key=admin)
    assert revoked.exit_code == 0, revoked.output
    assert revoked.stdout.startswith(f"revoked key #{key_id} ci-bot (") and revoked.stderr == ""
    assert agents(server, member) == 401  # at once: this server revoked it
    table = recalld("list", key=admin).stdout
    assert re.search(rf"#{key_id}\s+ci-bot\s+member .* revoked 20", table)


def test_a_member_key_may_not_manage_keys(admin: str, recalld: Callable[..., Result]) -> None:
    member = json.loads(recalld("create", "--json", key=admin).stdout)["key"]
    refused = recalld("list", key=member)
    assert refused.exit_code == 1
    assert refused.stderr == "error: managing API keys needs an admin key; this is a member key\n"


def test_an_admin_may_not_make_keys_for_another_tenant(
    admin: str, recalld: Callable[..., Result]
) -> None:
    refused = recalld("create", "--tenant", "globex", key=admin)
    assert refused.exit_code == 1 and "own tenant (acme) only" in refused.stderr
    own = recalld("create", "--tenant", "acme", "--role", "admin", "--json", key=admin)
    assert json.loads(own.stdout)["role"] == "admin"
    elsewhere = recalld("list", "--tenant", "globex", key=admin)
    assert elsewhere.exit_code == 2 and "use --local" in elsewhere.output
