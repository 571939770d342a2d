"""`recalld memory`: show and edit an agent's core memory blocks."""

from __future__ import annotations

from typing import Any

import typer
from rich.markup import escape

from cli.options import Options
from cli.output import emit, err, friendly, group, out

app = group("Show and edit core memory blocks.")


@app.command("show")
def show(ctx: typer.Context, agent: str, as_json: bool = typer.Option(False, "--json")) -> None:
    """Show an agent's core memory blocks."""
    options = Options.of(ctx)
    with options.client() as api, friendly(options.debug):
        found = api.find_agent(agent)
        blocks = api.blocks(found["id"])["data"]

    def human() -> None:
        for b in blocks:
            out.print(f"[bold]{escape(b['label'])}[/bold] ({b['size']}/{b['limit']})")
            out.print(b["value"] or "(empty)", markup=False)

    emit(blocks, as_json, human)


@app.command("edit")
def edit(
    ctx: typer.Context,
    agent: str,
    label: str,
    value: str | None = typer.Option(None, help="New value of the block."),
    append: str | None = typer.Option(None, help="Text to append on a new line."),
    limit: int | None = typer.Option(None, help="New size limit in characters."),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Edit a block: set --value, or --append text, and/or change --limit."""
    options = Options.of(ctx)
    with options.client() as api:
        with friendly(options.debug):
            found = api.find_agent(agent)
        fields: dict[str, Any] = {}
        if append is not None:
            with friendly(options.debug):
                current = api.block(found["id"], label)["value"]
            fields["value"] = f"{current}\n{append}" if current else append
        if value is not None:
            fields["value"] = value
        if limit is not None:
            fields["limit"] = limit
        if not fields:
            err.print("nothing to change: give --value, --append or --limit")
            raise typer.Exit(2)
        with friendly(options.debug):
            block = api.edit_block(found["id"], label, **fields)
    emit(
        block,
        as_json,
        lambda: out.print(f"{label}: {block['size']}/{block['limit']} characters", markup=False),
    )


@app.command("history")
def history(
    ctx: typer.Context,
    agent: str,
    label: str,
    limit: int = typer.Option(20, help="Versions to show, newest first."),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Every version of a block, newest first, and who wrote it."""
    options = Options.of(ctx)
    with options.client() as api, friendly(options.debug):
        found = api.find_agent(agent)
        versions = api.block_history(found["id"], label, limit=limit)["data"]

    def human() -> None:
        for v in versions:
            who = v["actor"] + (f" (turn {v['turn_id']})" if v.get("turn_id") else "")
            restored = f", restored v{v['restored_from']}" if v.get("restored_from") else ""
            out.print(
                f"[bold]v{v['version']}[/bold] {v['created_at'][:19]} {escape(who)}{restored}"
            )
            out.print(v["value"] or "(empty)", markup=False)

    emit(versions, as_json, human)


@app.command("restore")
def restore(
    ctx: typer.Context,
    agent: str,
    label: str,
    version: int,
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Bring a block back to an earlier version's value (as a new version)."""
    options = Options.of(ctx)
    with options.client() as api, friendly(options.debug):
        found = api.find_agent(agent)
        done = api.restore_block(found["id"], label, version)
    emit(
        done,
        as_json,
        lambda: out.print(
            f"{label}: restored v{version} as v{done['version']['version']}", markup=False
        ),
    )
