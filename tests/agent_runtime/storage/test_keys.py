"""API keys in the database (`storage/keys.py`): roles, revocation, the cached lookup and when a
key was last used."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlmodel import Session

from agent_runtime.core.errors import InvalidInput, NotFound
from agent_runtime.core.settings import Settings
from agent_runtime.storage import keys
from agent_runtime.storage.database import make_engine, upgrade
from agent_runtime.storage.tables import ApiKey


@pytest.fixture
def engine(tmp_path: Path, database_url: str | None) -> Iterator[Engine]:
    settings = Settings(home=tmp_path, database_url=database_url)
    settings.home.mkdir(parents=True, exist_ok=True)
    made = make_engine(settings.sqlalchemy_url)
    upgrade(made)
    yield made
    made.dispose()


def row(engine: Engine, key_id: int) -> ApiKey:
    with Session(engine) as session:
        found = session.get(ApiKey, key_id)
    assert found is not None
    return found


def test_existing_keys_become_admin_keys_named_after_their_prefix(
    tmp_path: Path, database_url: str | None
) -> None:
    settings = Settings(home=tmp_path, database_url=database_url)
    settings.home.mkdir(parents=True, exist_ok=True)
    engine = make_engine(settings.sqlalchemy_url)
    upgrade(engine, "0011")
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO api_key (tenant_id, key_hash, prefix, created_at) "
                "VALUES ('acme', 'h1', 'rk_abcde', CURRENT_TIMESTAMP)"
            )
        )
    upgrade(engine)
    with engine.begin() as conn:
        migrated = conn.execute(
            text("SELECT name, role, last_used_at, revoked_at FROM api_key")
        ).one()
    assert tuple(migrated) == ("key-rk_abcde", "admin", None, None)
    engine.dispose()


def test_a_key_has_a_name_a_role_and_only_its_hash_stored(engine: Engine) -> None:
    made = keys.issue(engine, "acme", "ci-bot", "member")
    stored = row(engine, made.row.id or 0)
    assert (stored.name, stored.role, stored.tenant_id) == ("ci-bot", "member", "acme")
    assert made.secret not in (stored.key_hash, stored.prefix)
    assert made.secret.startswith(stored.prefix)
    unnamed = keys.issue(engine, "acme")
    assert unnamed.row.name == f"key-{unnamed.row.prefix}" and unnamed.row.role == "admin"
    assert keys.find(engine, made.secret) == keys.Caller(stored.id or 0, "acme", "member")
    assert keys.find(engine, "rk_not-a-key") is None


@pytest.mark.parametrize(
    ("tenant", "name", "role", "field"),
    [
        ("", None, "admin", "tenant"),
        ("acme", "has space", "admin", "name"),
        ("acme", "x" * 65, "admin", "name"),
        ("acme", None, "owner", "role"),
    ],
)
def test_bad_tenants_names_and_roles_are_refused(
    engine: Engine, tenant: str, name: str | None, role: str, field: str
) -> None:
    with pytest.raises(InvalidInput) as refused:
        keys.issue(engine, tenant, name, role)
    assert refused.value.field == field
    assert keys.listing(engine, None) == []


def test_revoking_keeps_the_row_and_auth_on(engine: Engine) -> None:
    made = keys.issue(engine, "acme")
    key_id = made.row.id or 0
    first = keys.revoke(engine, key_id, "acme")
    assert first.revoked_at is not None
    assert keys.find(engine, made.secret) is None
    again = keys.revoke(engine, key_id, "acme")
    assert again.revoked_at == row(engine, key_id).revoked_at  # unchanged the second time
    assert [k.id for k in keys.listing(engine, "acme")] == [key_id]
    assert keys.any_configured(engine)  # no key left, yet every request still needs one


def test_another_tenants_key_is_not_found(engine: Engine) -> None:
    theirs = keys.issue(engine, "globex")
    with pytest.raises(NotFound):
        keys.revoke(engine, theirs.row.id or 0, "acme")
    assert keys.find(engine, theirs.secret) is not None
    assert keys.listing(engine, "acme") == []
    assert keys.revoke(engine, theirs.row.id or 0, None).revoked_at is not None  # the operator


def test_a_lookup_refuses_a_key_revoked_through_it_at_once(engine: Engine) -> None:
    lookup = keys.KeyLookup(engine, seconds=3600)
    made = keys.issue(engine, "acme", role="member")
    assert lookup.tenant(made.secret) == "acme"  # cached for an hour from here
    lookup.revoke(made.row.id or 0, "acme")
    assert lookup.caller(made.secret) is None
    lookup.close()


def test_a_key_revoked_elsewhere_is_refused_when_the_cached_answer_ends(engine: Engine) -> None:
    made = keys.issue(engine, "acme")
    cached = keys.KeyLookup(engine, seconds=3600)
    fresh = keys.KeyLookup(engine, seconds=0)
    assert cached.tenant(made.secret) == fresh.tenant(made.secret) == "acme"
    keys.revoke(engine, made.row.id or 0, None)  # another process, or `keys revoke --local`
    assert cached.tenant(made.secret) == "acme"  # until its answer is `seconds` old
    assert fresh.tenant(made.secret) is None
    cached.close()
    fresh.close()


def test_when_a_key_was_last_used_is_written_at_most_once_per_interval(engine: Engine) -> None:
    made = keys.issue(engine, "acme")
    key_id = made.row.id or 0

    def forget() -> None:
        with engine.begin() as conn:
            conn.execute(text("UPDATE api_key SET last_used_at = NULL"))

    hourly = keys.KeyLookup(engine, seconds=0, touch_seconds=3600)
    hourly.caller(made.secret)
    hourly.settle()
    assert row(engine, key_id).last_used_at is not None
    forget()
    hourly.caller(made.secret)  # used again within the hour: not written again
    hourly.settle()
    assert row(engine, key_id).last_used_at is None
    hourly.close()

    always = keys.KeyLookup(engine, seconds=0, touch_seconds=0)
    always.caller(made.secret)
    always.settle()
    forget()
    always.caller(made.secret)
    always.settle()
    assert row(engine, key_id).last_used_at is not None
    always.close()


def test_an_unknown_or_revoked_key_is_never_written(engine: Engine) -> None:
    made = keys.issue(engine, "acme")
    keys.revoke(engine, made.row.id or 0, None)
    lookup = keys.KeyLookup(engine, touch_seconds=0)
    assert lookup.caller(made.secret) is None and lookup.caller("rk_nothing") is None
    lookup.close()
    assert row(engine, made.row.id or 0).last_used_at is None


def test_the_operator_may_adopt_a_chosen_key_once(engine: Engine) -> None:
    chosen = "boot-" + "k" * 40
    assert keys.adopt(engine, chosen, "default")
    assert not keys.adopt(engine, chosen, "default")  # every start: already there
    caller = keys.find(engine, chosen)
    assert caller is not None and (caller.tenant_id, caller.admin) == ("default", True)
    assert len(keys.listing(engine, None)) == 1
    keys.revoke(engine, caller.key_id, None)
    assert not keys.adopt(engine, chosen, "default")
    assert keys.find(engine, chosen) is None  # a revoked key is not brought back
    with pytest.raises(InvalidInput):
        keys.adopt(engine, "short", "default")


def test_replicas_adopting_one_key_at_once_store_it_once(
    engine: Engine, backend: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two replicas start with the same RECALLD_BOOTSTRAP_ADMIN_KEY: the other one stores it
    between this one's look and its insert. That is no error at start-up, and one row."""
    if backend != "postgres":
        pytest.skip("SQLite runs one writer at a time")
    chosen = "boot-" + "r" * 40
    add = keys._add
    raced: list[bool] = []

    def other_replica_first(*args: object, **kwargs: object) -> object:
        if not raced:
            raced.append(True)
            monkeypatch.setattr(keys, "_add", add)
            assert keys.adopt(engine, chosen, "default")  # the other replica, committed first
        return add(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(keys, "_add", other_replica_first)
    assert not keys.adopt(engine, chosen, "default")
    assert raced and len(keys.listing(engine, None)) == 1
