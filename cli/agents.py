"""`recalld agents`: create, list, show and delete agents."""

from __future__ import annotations

import json
import sys
from pathlib import Path

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
    fallback: list[str] = typer.Option(
        [],
        "--fallback",
        metavar="MODEL",
        help="A model tried when the agent's own fails (repeat, in order).",
    ),
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
            fallback_models=fallback or None,
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
        if found.get("fallback_models"):
            names = ", ".join(f["model"] for f in found["fallback_models"])
            out.print(f"{'fallbacks':<16} {names}", markup=False)
        if found.get("tools"):
            out.print(f"{'tools':<16} {', '.join(found['tools'])}", markup=False)
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


@app.command("export")
def export(
    ctx: typer.Context,
    agent: str,
    output: Path = typer.Option(..., "--output", "-o", help="The file to write (JSON)."),
) -> None:
    """Write an agent, with all its memory, to one JSON document."""
    options = Options.of(ctx)
    written = 0
    with options.client() as api, friendly(options.debug):
        found = api.find_agent(agent)
        partial = output.with_name(output.name + ".part")
        with partial.open("wb") as file:
            for piece in api.export_agent(found["id"]):
                file.write(piece)
                written += len(piece)
        partial.replace(output)  # a broken download never passes for an export
    out.print(f"exported {found['name']} to {output} ({written:,} bytes)", markup=False)


@app.command("import")
def import_(
    ctx: typer.Context,
    file: Path = typer.Argument(..., exists=True, dir_okay=False, readable=True),
    name: str | None = typer.Option(None, help="A name for the new agent."),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Create an agent from an export, or from a Letta agent file (.af); a Mem0 memory export
    becomes facts. The format is told from the file."""
    options = Options.of(ctx)
    try:
        document = json.loads(file.read_text())
    except (ValueError, UnicodeDecodeError) as exc:
        err.print(f"error: {file} is not JSON ({exc})", markup=False)
        raise typer.Exit(2) from exc
    kind = _kind(document)
    if kind is None:
        err.print(
            f"error: {file} is not a recalld export, a Letta agent file or a Mem0 export",
            markup=False,
        )
        raise typer.Exit(2)
    out.print(f"importing {kind} from {file} ({file.stat().st_size:,} bytes)…", markup=False)
    with options.client() as api, friendly(options.debug):
        if kind == "Mem0 export":
            done = api.import_mem0(document)
        else:
            done = api.import_agent(document, name=name, letta=kind == "Letta agent file")

    def human() -> None:
        if kind == "Mem0 export":
            out.print(f"{done['memories']} memories → {done['facts']} facts", markup=False)
            return
        counts = ", ".join(f"{n} {k}" for k, n in done["counts"].items())
        out.print(
            f"created {done['agent']['name']} ({done['agent']['id']}): {counts}", markup=False
        )
        for line in done["skipped"]:
            out.print(f"  skipped: {line}", markup=False)

    emit(done, as_json, human)


def _kind(document: object) -> str | None:
    if isinstance(document, list) or (isinstance(document, dict) and "results" in document):
        return "Mem0 export"
    if isinstance(document, dict) and document.get("format") == "recalld.agent":
        return "recalld export"
    if isinstance(document, dict) and "llm_config" in document:
        return "Letta agent file"
    return None
