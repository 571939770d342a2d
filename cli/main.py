"""The `recalld` command: serve, chat, and manage agents, memory and keys."""

from __future__ import annotations

import json
import sys
import traceback
from collections.abc import Callable
from typing import Any

import typer
from rich.console import Console
from rich.markup import escape

from cli.client import DEFAULT_URL, ApiError, RecalldClient


def group(help: str) -> typer.Typer:
    # Plain help, not Rich's panels: those show flags such as --json as taking a "<bool>", and
    # draw their boxes 80 columns wide when the output is not a terminal.
    return typer.Typer(
        help=help,
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
        rich_markup_mode=None,
    )


app = group("recalld: long-lived LLM agents with paged memory.")
agents_app = group("Create, list, show and delete agents.")
memory_app = group("Show and edit core memory blocks.")
archival_app = group("Insert into and search archival memory.")
jobs_app = group("Long-running autonomous jobs.")
keys_app = group("API keys (stored hashed; each belongs to a tenant).")
app.add_typer(agents_app, name="agents")
app.add_typer(memory_app, name="memory")
app.add_typer(archival_app, name="archival")
app.add_typer(keys_app, name="keys")
app.add_typer(jobs_app, name="jobs")

out = Console(highlight=False)
err = Console(stderr=True, highlight=False)


class State:
    url: str = DEFAULT_URL
    key: str | None = None
    debug: bool = False


state = State()


@app.callback()
def main_options(
    url: str = typer.Option(DEFAULT_URL, "--url", envvar="RECALLD_URL", help="Server URL."),
    key: str | None = typer.Option(None, "--key", envvar="RECALLD_API_KEY", help="API key."),
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks on errors."),
) -> None:
    state.url, state.key, state.debug = url, key, debug
    for console in (out, err):
        # Piped output keeps its long lines whole, for the program or file reading it.
        console.soft_wrap = not console.is_terminal


def friendly(action: Callable[[], Any]) -> Any:
    """Run `action`, turning errors into one line on stderr (tracebacks with --debug)."""
    from agent_runtime.errors import RecalldError

    try:
        return action()
    except (ApiError, RecalldError) as exc:
        if state.debug:
            traceback.print_exc()
        err.print(f"[red]error:[/red] {escape(str(exc))}")
        raise typer.Exit(1) from None


def client() -> RecalldClient:
    return RecalldClient(state.url, state.key)


def emit(data: Any, as_json: bool, human: Callable[[], None]) -> None:
    if as_json:
        print(json.dumps(data, indent=2, ensure_ascii=False))
    else:
        human()


# -- serve, worker, keys --------------------------------------------------------------------------


@app.command()
def serve(
    host: str = typer.Option("127.0.0.1", help="Address to bind."),
    port: int = typer.Option(8300, help="Port to bind."),
) -> None:
    """Run the server (SQLite + embedded Chroma under RECALLD_HOME unless configured)."""
    from cli.serve import run_server

    friendly(lambda: run_server(host, port, err))


@keys_app.command("create")
def keys_create(
    tenant: str = typer.Option(..., "--tenant", help="Tenant the key belongs to."),
    as_json: bool = typer.Option(False, "--json", help='Print {"key": ...}.'),
) -> None:
    """Make an API key. It is shown once; only its hash is stored."""
    from agent_runtime import keys
    from agent_runtime.runtime import DEFAULT_TENANT
    from agent_runtime.settings import Settings
    from agent_runtime.storage.database import make_engine, upgrade

    def make() -> tuple[str, bool]:
        settings = Settings.from_env()
        engine = make_engine(settings.sqlalchemy_url)
        upgrade(engine)
        try:
            first = not keys.any_configured(engine)
            return keys.create(engine, tenant), first
        finally:
            engine.dispose()

    key, first = friendly(make)
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


# -- chat -------------------------------------------------------------------------------------


@app.command()
def chat(
    agent: str | None = typer.Argument(None, help="Agent id or name (default: 'chat')."),
) -> None:
    """Chat with an agent. Piped, it reads lines from stdin and stops with exit code 1 at the
    first turn or command that fails."""
    from cli.chat import ChatSession

    interactive = sys.stdin.isatty()
    with client() as api:

        def pick() -> dict:
            if agent:
                return api.find_agent(agent)
            found = api.list_agents(name="chat", limit=1)["data"]
            if found:
                return found[0]
            made = api.create_agent("chat")
            err.print(f"created agent 'chat' ({made['id']}, model {made['model']})", markup=False)
            return made

        chosen = friendly(pick)
        session = ChatSession(api, chosen, out, interactive, errors=err)
        if interactive:
            out.print(
                f"chatting with [bold]{escape(chosen['name'])}[/bold] ({escape(chosen['model'])}); "
                "/help for commands, /exit to leave"
            )
            session.run(_prompt_lines())
        else:
            session.run(sys.stdin)
            if session.failed:
                raise typer.Exit(1)


def _prompt_lines():  # type: ignore[no-untyped-def]
    while True:
        try:
            yield out.input("[bold green]you[/bold green] › ")
        except (EOFError, KeyboardInterrupt):
            out.print()
            return


# -- agents ------------------------------------------------------------------------------------


@agents_app.command("list")
def agents_list(as_json: bool = typer.Option(False, "--json")) -> None:
    """List agents."""
    with client() as api:
        rows = friendly(lambda: api.list_agents(limit=500))["data"]

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


@agents_app.command("create")
def agents_create(
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
    with client() as api:
        agent = friendly(
            lambda: api.create_agent(
                name,
                model=model,
                model_base_url=base_url,
                context_window=context_window,
                persona=persona,
                human=human,
                system=system,
            )
        )
    emit(
        agent, as_json, lambda: out.print(f"created {agent['id']} ({agent['model']})", markup=False)
    )


@agents_app.command("show")
def agents_show(agent: str, as_json: bool = typer.Option(False, "--json")) -> None:
    """Show an agent and its context window."""
    with client() as api:
        found = friendly(lambda: api.find_agent(agent))
        ctx = friendly(lambda: api.context(found["id"]))

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
        out.print(f"{'context':<16} {ctx['total']} of {ctx['window']} tokens in use")

    emit({**found, "context": ctx}, as_json, human)


@agents_app.command("delete")
def agents_delete(
    agent: str,
    yes: bool = typer.Option(
        False, "--yes", "-y", help="Delete without asking (needed when piped)."
    ),
) -> None:
    """Delete an agent with all its memory."""
    if not yes and not sys.stdin.isatty():
        err.print(f"not deleting {agent}: with no terminal to confirm on, add --yes", markup=False)
        raise typer.Exit(2)
    with client() as api:
        found = friendly(lambda: api.find_agent(agent))
        if not yes and not typer.confirm(f"delete {found['name']} and all its memory?"):
            err.print(f"kept {found['name']}", markup=False)
            raise typer.Exit(1)
        friendly(lambda: api.delete_agent(found["id"]))
    out.print(f"deleted {found['id']}")


# -- memory and archival -------------------------------------------------------------------------


@memory_app.command("show")
def memory_show(agent: str, as_json: bool = typer.Option(False, "--json")) -> None:
    """Show an agent's core memory blocks."""
    with client() as api:
        found = friendly(lambda: api.find_agent(agent))
        blocks = friendly(lambda: api.blocks(found["id"]))["data"]

    def human() -> None:
        for b in blocks:
            out.print(f"[bold]{escape(b['label'])}[/bold] ({b['size']}/{b['limit']})")
            out.print(b["value"] or "(empty)", markup=False)

    emit(blocks, as_json, human)


@memory_app.command("edit")
def memory_edit(
    agent: str,
    label: str,
    value: str | None = typer.Option(None, help="New value of the block."),
    append: str | None = typer.Option(None, help="Text to append on a new line."),
    limit: int | None = typer.Option(None, help="New size limit in characters."),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Edit a block: set --value, or --append text, and/or change --limit."""
    with client() as api:
        found = friendly(lambda: api.find_agent(agent))
        fields: dict[str, Any] = {}
        if append is not None:
            current = friendly(lambda: api.block(found["id"], label))["value"]
            fields["value"] = f"{current}\n{append}" if current else append
        if value is not None:
            fields["value"] = value
        if limit is not None:
            fields["limit"] = limit
        if not fields:
            err.print("nothing to change: give --value, --append or --limit")
            raise typer.Exit(2)
        block = friendly(lambda: api.edit_block(found["id"], label, **fields))
    emit(
        block,
        as_json,
        lambda: out.print(f"{label}: {block['size']}/{block['limit']} characters", markup=False),
    )


@archival_app.command("insert")
def archival_insert(
    agent: str,
    text: str,
    tag: list[str] = typer.Option([], "--tag", metavar="<tag>", help="A tag (repeatable)."),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Store a passage in an agent's archival memory."""
    with client() as api:
        found = friendly(lambda: api.find_agent(agent))
        passage = friendly(lambda: api.insert_passage(found["id"], text, tags=tag))
    emit(passage, as_json, lambda: out.print(f"stored passage {passage['id']}"))


@archival_app.command("search")
def archival_search(
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
    with client() as api:
        found = friendly(lambda: api.find_agent(agent))
        hits = friendly(
            lambda: api.search_archival(
                found["id"], query, tags=tag, start=start, end=end, limit=limit
            )
        )["data"]

    def human() -> None:
        if not hits:
            out.print("nothing found")
        for h in hits:
            out.print(f"{h['created_at'][:16]}  {h['text']}", markup=False)

    emit(hits, as_json, human)


# -- jobs and workers ------------------------------------------------------------------------------


@app.command()
def worker(concurrency: int = typer.Option(1, help="Worker threads.")) -> None:
    """Run job workers on their own (they share the server's database)."""
    from cli.serve import run_workers

    friendly(lambda: run_workers(concurrency, err))


@jobs_app.command("submit")
def jobs_submit(
    agent: str,
    goal: str,
    max_steps: int | None = typer.Option(None, "--max-steps"),
    max_duration: str | None = typer.Option(None, "--max-duration", help="e.g. 30m, 2h."),
    every: str | None = typer.Option(
        None,
        "--every",
        metavar="<schedule>",
        help="Repeat on a schedule: an interval (30m, 1h, 1d; first run now, the next that long "
        "after each run ends) or a five-field cron line (runs at its matching times in UTC, the "
        "first of them after now). Cancelling any of its runs stops the schedule.",
    ),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Hand an agent a goal to work on by itself."""
    with client() as api:
        found = friendly(lambda: api.find_agent(agent))
        job = friendly(lambda: api.jobs.submit(found["id"], goal, max_steps, max_duration, every))

    def human() -> None:
        out.print(f"submitted {job['id']} ({job['status']})", markup=False)
        if job.get("schedule"):
            out.print(
                f"schedule {job['schedule']}: first run {_utc(job['run_after'])}; "
                f"'recalld jobs cancel {job['id']}' stops it",
                markup=False,
            )

    emit(job, as_json, human)


def _utc(moment: str | None) -> str:
    """'2025-01-02T03:04:05.678Z' as '2025-01-02 03:04:05 UTC'."""
    return f"{moment[:19].replace('T', ' ')} UTC" if moment else "-"


@jobs_app.command("list")
def jobs_list(
    agent: str | None = typer.Option(None, help="Only this agent's jobs."),
    status: str | None = typer.Option(None),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """List jobs."""
    with client() as api:
        agent_id = friendly(lambda: api.find_agent(agent))["id"] if agent else None
        rows = friendly(lambda: api.jobs.list(agent_id, status))["data"]

    def human() -> None:
        if not rows:
            out.print("no jobs")
        for j in rows:
            out.print(
                f"{j['id']}  {j['status']:<10} {j['steps']:>4}/{j['max_steps']:<5} "
                f"{j['goal'][:50]}",
                markup=False,
            )

    emit(rows, as_json, human)


@jobs_app.command("cancel")
def jobs_cancel(job_id: str) -> None:
    """Cancel a job; a running job stops before its next step. Any run of a schedule stops the
    whole schedule."""
    with client() as api:
        job = friendly(lambda: api.jobs.cancel(job_id))
    out.print(
        f"{job['id']}: {job['status']}"
        + (" (stops before its next step)" if job["status"] == "running" else "")
        + (f"; schedule {job['schedule']} stopped, no more runs" if job.get("schedule") else ""),
        markup=False,
    )


@jobs_app.command("watch")
def jobs_watch(job_id: str) -> None:
    """Follow a job live: steps, tokens and progress notes, until it ends."""
    with client() as api:

        def follow() -> dict:
            for event in api.jobs.events(job_id):
                data = event.data
                if event.kind == "step":
                    tools = ", ".join(data.get("tools") or []) or "answer"
                    tokens = data["prompt_tokens"] + data["completion_tokens"]
                    out.print(f"[dim]step {data['step']:>4}  {tools}  ({tokens} tokens)[/dim]")
                elif event.kind == "progress":
                    out.print(f"progress: {data['note']}", markup=False)
                elif event.kind == "status":
                    out.print(
                        f"[bold]{data['status']}[/bold]"
                        + (f" ({data['stop_reason']})" if data.get("stop_reason") else "")
                    )
                elif event.kind == "scheduled":
                    out.print(
                        f"next run: {data['next_job_id']} at {_utc(data['run_after'])}",
                        markup=False,
                    )
                elif event.kind == "schedule_stopped":
                    out.print(f"schedule stopped: {data['reason']}", markup=False)
            return api.jobs.get(job_id)

        job = friendly(follow)
    if job.get("result"):
        out.print(f"result: {job['result']}", markup=False)
    if job.get("error"):
        out.print(f"error: {job['error']}", markup=False)
    raise typer.Exit(0 if job["status"] == "succeeded" else 1)


def main() -> None:
    app()
