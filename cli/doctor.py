"""`recalld doctor`: compare the database with the vector index, and repair it."""

from __future__ import annotations

import typer

from cli.options import Options
from cli.output import emit, friendly, out


def doctor(
    ctx: typer.Context,
    agent: str | None = typer.Argument(None, help="Agent id or name (default: every agent)."),
    repair: bool = typer.Option(False, "--repair", help="Fix what is found."),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Find vectors that are missing, stale or orphaned, per agent; --repair fixes them."""
    options = Options.of(ctx)
    with options.client() as api, friendly(options.debug):
        agent_id = api.find_agent(agent)["id"] if agent else None
        findings = api.doctor(agent_id, repair=repair)["findings"]
    damaged = [f for f in findings if not f["healthy"]]

    def human() -> None:
        agents = len({f["agent_id"] for f in findings})
        for f in damaged:
            out.print(
                f"{f['agent_id']} {f['kind']}s: {len(f['missing'])} missing, "
                f"{len(f['stale'])} stale, {len(f['orphans'])} orphan vectors"
                + (" (repaired)" if f["repaired"] else ""),
                markup=False,
            )
        if not damaged:
            out.print(f"{agents} agent(s) checked: the vector index matches the database")
        elif not repair:
            out.print("run again with --repair to fix this")

    emit(findings, as_json, human)
    if damaged and not repair:
        raise typer.Exit(1)
