"""`recalld keys`: make API keys. This talks to the database directly, not to the server: the
first key is what turns authentication on.

The runtime is imported inside the functions, not at the top: it takes about a second to load,
which every other command would pay at startup."""

from __future__ import annotations

import typer

from cli.options import Options
from cli.output import emit, err, friendly, group, out

app = group("API keys (stored hashed; each belongs to a tenant).")


@app.command("create")
def create(
    ctx: typer.Context,
    tenant: str = typer.Option(..., "--tenant", help="Tenant the key belongs to."),
    as_json: bool = typer.Option(False, "--json", help='Print {"key": ...}.'),
) -> None:
    """Make an API key. It is shown once; only its hash is stored."""
    from agent_runtime.runtime import DEFAULT_TENANT

    with friendly(Options.of(ctx).debug):
        key, first = _make_key(tenant)
    emit(
        {"key": key, "tenant": tenant},
        as_json,
        lambda: out.print(f"API key for tenant {tenant} (shown once):\n{key}", markup=False),
    )
    if first:
        err.print("From now on every request needs an API key.", markup=False)
    if first and tenant != DEFAULT_TENANT:
        err.print(
            f"Agents made before the first key belong to tenant '{DEFAULT_TENANT}', not "
            f"'{tenant}'; to reach them, make a key for it: "
            f"recalld keys create --tenant {DEFAULT_TENANT}",
            markup=False,
        )


def _make_key(tenant: str) -> tuple[str, bool]:
    """A new key for `tenant`, and whether it is the first key of all."""
    from agent_runtime.core.settings import Settings
    from agent_runtime.storage import keys
    from agent_runtime.storage.database import make_engine, upgrade

    settings = Settings.from_env()
    engine = make_engine(settings.sqlalchemy_url)
    upgrade(engine)
    try:
        first = not keys.any_configured(engine)
        return keys.create(engine, tenant), first
    finally:
        engine.dispose()
