"""`recalld agents`: create, list, show and delete agents."""

from __future__ import annotations

import sys

import typer

from cli.options import Options
from cli.output import emit, err, friendly, group, out

app = group("Create, list, show and delete agents.")


@app.command("list")
def list_agents(ctx: typer.Context, as_json: bool = typer.Option(False, "--json")) -> None:
    """List agents."""
    options = Options.of(ctx)
    with options.client() as api, friendly(options.debug):
        rows = api.list_agents(limit=500)["data"]

    def table() -> None:
        if not rows:
            out.print("no agents yet: recalld agents create NAME")
        for a in rows:
            out.print(
                f"{a['id']}  {a['name']:<20} {a['model']:<24} "
                f"{a['message_count']} messages, {a['passage_count']} passages",
                markup=False,
            )

    emit(rows, as_json, table)


@app.command("create")
def create(
    ctx: typer.Context,
    name: str,
    model: str | None = typer.Option(None, help="litellm model string, or 'offline'."),
    base_url: str | None = typer.Option(None, "--base-url", help="OpenAI-compatible endpoint."),
    context_window: int | None = typer.Option(None, "--context-window"),
    persona: str | None = typer.Option(None, help="Persona block text."),
    human: str | None = typer.Option(None, help="Human block text."),
    system: str | None = typer.Option(None, help="Instructions for the system prompt."),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Create an agent."""
    options = Options.of(ctx)
    with options.client() as api, friendly(options.debug):
        agent = api.create_agent(
            name,
            model=model,
            model_base_url=base_url,
            context_window=context_window,
            persona=persona,
            human=human,
            system=system,
        )
    emit(
        agent, as_json, lambda: out.print(f"created {agent['id']} ({agent['model']})", markup=False)
    )


@app.command("show")
def show(ctx: typer.Context, agent: str, as_json: bool = typer.Option(False, "--json")) -> None:
    """Show an agent and its context window."""
    options = Options.of(ctx)
    with options.client() as api, friendly(options.debug):
        found = api.find_agent(agent)
        window = api.context(found["id"])

    def human() -> None:
        for key in (
            "id",
            "name",
            "model",
            "model_base_url",
            "context_window",
            "embedding",
            "max_steps",
            "message_count",
            "passage_count",
            "last_stop_reason",
        ):
            out.print(f"{key:<16} {found[key]}", markup=False)
        out.print(f"{'context':<16} {window['total']} of {window['window']} tokens in use")

    emit({**found, "context": window}, as_json, human)


@app.command("delete")
def delete(
    ctx: typer.Context,
    agent: str,
    yes: bool = typer.Option(
        False, "--yes", "-y", help="Delete without asking (needed when piped)."
    ),
) -> None:
    """Delete an agent with all its memory."""
    options = Options.of(ctx)
    if not yes and not sys.stdin.isatty():
        err.print(f"not deleting {agent}: with no terminal to confirm on, add --yes", markup=False)
        raise typer.Exit(2)
    with options.client() as api:
        with friendly(options.debug):
            found = api.find_agent(agent)
        if not yes and not typer.confirm(f"delete {found['name']} and all its memory?"):
            err.print(f"kept {found['name']}", markup=False)
            raise typer.Exit(1)
        with friendly(options.debug):
            api.delete_agent(found["id"])
    out.print(f"deleted {found['id']}")
