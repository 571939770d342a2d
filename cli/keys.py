"""`recalld keys`: make, list and revoke API keys.

Through the server (--url, with an admin key in --key): an admin key manages its own tenant's
keys. With --local, in the database under RECALLD_HOME (or RECALLD_DATABASE_URL) directly, for
every tenant: that is how the first admin key is made, since it is what turns authentication on.
A key revoked with --local is refused by running servers within a minute (their key cache).

The runtime is imported inside the --local functions, not at the top: it takes about a second to
load, which every other command would pay at startup."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Concatenate, ParamSpec, TypeVar

import typer

from cli.client import JSON, RecalldClient
from cli.options import Options
from cli.output import emit, err, friendly, group, out

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from agent_runtime.storage.tables import ApiKey

P = ParamSpec("P")
T = TypeVar("T")

app = group("API keys (stored hashed; each belongs to a tenant, as an admin or a member).")

LOCAL = typer.Option(
    False, "--local", help="Use the database under RECALLD_HOME directly, not the server."
)
AS_JSON = typer.Option(False, "--json")


@app.command("create")
def create(
    ctx: typer.Context,
    tenant: str | None = typer.Option(
        None,
        "--tenant",
        help="Tenant the key belongs to (required with --local; through the "
        "server, the admin key's own, the only one it may name).",
    ),
    name: str | None = typer.Option(None, "--name", help='A name (default "key-<prefix>").'),
    role: str | None = typer.Option(
        None,
        "--role",
        help="admin (also manages keys) or member (default: member; admin with "
        "--local, where the first admin key is made).",
    ),
    local: bool = LOCAL,
    as_json: bool = typer.Option(False, "--json", help="Print the key as JSON, with its secret."),
) -> None:
    """Make an API key. It is shown once; only its hash is stored."""
    options = Options.of(ctx)
    first = False
    with friendly(options.debug):
        if local:
            if tenant is None:
                raise typer.BadParameter("--local needs --tenant", param_hint="--tenant")
            made, first = _local(_make_key, tenant, name, role or "admin")
        else:
            with options.client() as api:
                made = KeysApi(api).create(tenant, name, role or "member")
    emit(
        made,
        as_json,
        lambda: out.print(
            f"{made['role']} key #{made['id']} {made['name']} for tenant {made['tenant']} "
            f"(shown once):\n{made['key']}",
            markup=False,
        ),
    )
    if first:
        from agent_runtime.stores import DEFAULT_TENANT

        err.print("From now on every request needs an API key.", markup=False)
        if made["tenant"] != DEFAULT_TENANT:
            err.print(
                f"Agents made before the first key belong to tenant '{DEFAULT_TENANT}', not "
                f"'{made['tenant']}'; to reach them, make a key for it: "
                f"recalld keys create --local --tenant {DEFAULT_TENANT}",
                markup=False,
            )


@app.command("list")
def list_keys(
    ctx: typer.Context,
    tenant: str | None = typer.Option(
        None, "--tenant", help="With --local: only this tenant's keys (default: every tenant's)."
    ),
    local: bool = LOCAL,
    as_json: bool = AS_JSON,
) -> None:
    """List keys, revoked ones too (never the keys themselves)."""
    options = Options.of(ctx)
    with friendly(options.debug):
        if local:
            rows = _local(_list_keys, tenant)
        elif tenant is not None:
            raise typer.BadParameter(
                "through the server, an admin key lists its own tenant's keys; "
                "use --local for another tenant's",
                param_hint="--tenant",
            )
        else:
            with options.client() as api:
                rows = KeysApi(api).listing()

    def human() -> None:
        if not rows:
            out.print("no API keys")
        for key in rows:
            state = f"revoked {_day(key['revoked_at'])}" if key["revoked_at"] else "active"
            out.print(
                f"#{key['id']:<4} {key['name']:<20} {key['role']:<6} {key['prefix']}…  "
                f"tenant {key['tenant']}  made {_day(key['created_at'])}  "
                f"used {_day(key['last_used_at'])}  {state}",
                markup=False,
            )

    emit(rows, as_json, human)


@app.command("revoke")
def revoke(
    ctx: typer.Context,
    key_id: int = typer.Argument(..., help="The key's id, as `recalld keys list` shows it."),
    local: bool = LOCAL,
    as_json: bool = AS_JSON,
) -> None:
    """Revoke a key: it is refused from now on, and stays in the list."""
    options = Options.of(ctx)
    with friendly(options.debug):
        if local:
            row = _local(_revoke_key, key_id)
        else:
            with options.client() as api:
                row = KeysApi(api).revoke(key_id)
    emit(
        row,
        as_json,
        lambda: out.print(
            f"revoked key #{row['id']} {row['name']} ({row['prefix']}…) of tenant {row['tenant']}",
            markup=False,
        ),
    )
    if local and not as_json:
        err.print("Running servers refuse it within a minute.", markup=False)


def _day(moment: str | None) -> str:
    """'2025-01-02T03:04:05.678Z' as '2025-01-02 03:04'."""
    return moment[:16].replace("T", " ") if moment else "never"


class KeysApi:
    """/v1/keys through a `RecalldClient` (its admin key)."""

    def __init__(self, client: RecalldClient) -> None:
        self._client = client

    def create(self, tenant: str | None, name: str | None, role: str) -> JSON:
        body = {"tenant": tenant, "name": name, "role": role}
        made: JSON = self._client._request(
            "POST", "/v1/keys", json={k: v for k, v in body.items() if v is not None}
        )
        return made

    def listing(self) -> list[JSON]:
        rows: list[JSON] = self._client._request("GET", "/v1/keys")["data"]
        return rows

    def revoke(self, key_id: int) -> JSON:
        row: JSON = self._client._request("DELETE", f"/v1/keys/{key_id}")
        return row


# -- --local: the database itself ----------------------------------------------------------------


def _local(action: Callable[Concatenate[Engine, P], T], *args: P.args, **kwargs: P.kwargs) -> T:
    """`action(engine, ...)` on the database of RECALLD_HOME / RECALLD_DATABASE_URL, migrated
    first."""
    from agent_runtime.core.settings import Settings
    from agent_runtime.storage.database import make_engine, upgrade

    engine = make_engine(Settings.from_env().sqlalchemy_url)
    try:
        upgrade(engine)
        return action(engine, *args, **kwargs)
    finally:
        engine.dispose()


def _make_key(engine: Engine, tenant: str, name: str | None, role: str) -> tuple[JSON, bool]:
    """A new key, as the API shows it with its secret, and whether it is the first of all."""
    from agent_runtime.storage import keys

    first = not keys.any_configured(engine)
    made = keys.issue(engine, tenant, name, role)
    return {**_shown(made.row), "key": made.secret}, first


def _list_keys(engine: Engine, tenant: str | None) -> list[JSON]:
    from agent_runtime.storage import keys

    return [_shown(row) for row in keys.listing(engine, tenant)]


def _revoke_key(engine: Engine, key_id: int) -> JSON:
    from agent_runtime.storage import keys

    return _shown(keys.revoke(engine, key_id, None))


def _shown(row: ApiKey) -> JSON:
    """A key's row as the API shows it (server/key_models.py `KeyOut`)."""
    return {
        "id": row.id,
        "tenant": row.tenant_id,
        "name": row.name,
        "role": row.role,
        "prefix": row.prefix,
        "created_at": _iso(row.created_at),
        "last_used_at": _iso(row.last_used_at),
        "revoked_at": _iso(row.revoked_at),
    }


def _iso(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    aware = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment  # SQLite: no zone
    return aware.isoformat().replace("+00:00", "Z")
