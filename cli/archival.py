"""`recalld archival`: insert passages into an agent's archival memory and search it."""

from __future__ import annotations

import typer

from cli.options import Options
from cli.output import emit, friendly, group, out

app = group("Insert into and search archival memory.")


@app.command("insert")
def insert(
    ctx: typer.Context,
    agent: str,
    text: str,
    tag: list[str] = typer.Option([], "--tag", metavar="<tag>", help="A tag (repeatable)."),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Store a passage in an agent's archival memory."""
    options = Options.of(ctx)
    with options.client() as api, friendly(options.debug):
        found = api.find_agent(agent)
        passage = api.insert_passage(found["id"], text, tags=tag)
    emit(passage, as_json, lambda: out.print(f"stored passage {passage['id']}"))


@app.command("search")
def search(
    ctx: typer.Context,
    agent: str,
    query: str,
    tag: list[str] = typer.Option(
        [], "--tag", metavar="<tag>", help="Only passages with this tag; repeat to require several."
    ),
    start: str | None = typer.Option(None, help="ISO date."),
    end: str | None = typer.Option(None, help="ISO date (inclusive)."),
    limit: int = typer.Option(10),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Search an agent's archival memory."""
    options = Options.of(ctx)
    with options.client() as api, friendly(options.debug):
        agent_id = api.find_agent(agent)["id"]
        found = api.search_archival(agent_id, query, tags=tag, start=start, end=end, limit=limit)
    hits = found["data"]

    def human() -> None:
        if not hits:
            out.print("nothing found")
        for h in hits:
            out.print(f"{h['created_at'][:16]}  {h['text']}", markup=False)

    emit(hits, as_json, human)
