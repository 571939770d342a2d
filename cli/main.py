"""The `recalld` command: serve, chat, and manage agents, memory, archival memory, jobs and keys.

This module only assembles the app: each noun's commands live in their own module, and the global
options reach them through typer's context as an `Options`."""

from __future__ import annotations

import typer

from cli import agents, archival, chat, doctor, jobs, keys, mcp, memories, memory, serve, tools
from cli.client import DEFAULT_URL
from cli.options import Options
from cli.output import fit_consoles, group

app = group("recalld: long-lived LLM agents with paged memory.")
app.command("serve")(serve.serve)
app.command("chat")(chat.chat)
app.command("worker")(serve.worker)
app.command("doctor")(doctor.doctor)
app.command("mcp")(mcp.mcp)
app.add_typer(agents.app, name="agents")
app.add_typer(memory.app, name="memory")
app.add_typer(memories.app, name="memories")
app.add_typer(archival.app, name="archival")
app.add_typer(keys.app, name="keys")
app.add_typer(jobs.app, name="jobs")
app.add_typer(tools.app, name="tools")


@app.callback()
def main_options(
    ctx: typer.Context,
    url: str = typer.Option(DEFAULT_URL, "--url", envvar="RECALLD_URL", help="Server URL."),
    key: str | None = typer.Option(None, "--key", envvar="RECALLD_API_KEY", help="API key."),
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks on errors."),
) -> None:
    ctx.obj = Options(url, key, debug)
    fit_consoles()


def main() -> None:
    app()
