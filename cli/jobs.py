"""`recalld jobs`: hand an agent a goal (once or on a schedule), list, cancel and watch jobs."""

from __future__ import annotations

import typer

from cli.client import JSON, RecalldClient
from cli.options import Options
from cli.output import emit, friendly, group, out

app = group("Long-running autonomous jobs.")


@app.command("submit")
def submit(
    ctx: typer.Context,
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
    options = Options.of(ctx)
    with options.client() as api, friendly(options.debug):
        found = api.find_agent(agent)
        job = api.jobs.submit(found["id"], goal, max_steps, max_duration, every)

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


@app.command("list")
def list_jobs(
    ctx: typer.Context,
    agent: str | None = typer.Option(None, help="Only this agent's jobs."),
    status: str | None = typer.Option(None),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """List jobs."""
    options = Options.of(ctx)
    with options.client() as api, friendly(options.debug):
        agent_id = api.find_agent(agent)["id"] if agent else None
        rows = api.jobs.list(agent_id, status)["data"]

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


@app.command("cancel")
def cancel(ctx: typer.Context, job_id: str) -> None:
    """Cancel a job; a running job stops before its next step. Any run of a schedule stops the
    whole schedule."""
    options = Options.of(ctx)
    with options.client() as api, friendly(options.debug):
        job = api.jobs.cancel(job_id)
    out.print(
        f"{job['id']}: {job['status']}"
        + (" (stops before its next step)" if job["status"] == "running" else "")
        + (f"; schedule {job['schedule']} stopped, no more runs" if job.get("schedule") else ""),
        markup=False,
    )


@app.command("watch")
def watch(ctx: typer.Context, job_id: str) -> None:
    """Follow a job live: steps, tokens and progress notes, until it ends."""
    options = Options.of(ctx)
    with options.client() as api, friendly(options.debug):
        job = _follow(api, job_id)
    if job.get("result"):
        out.print(f"result: {job['result']}", markup=False)
    if job.get("error"):
        out.print(f"error: {job['error']}", markup=False)
    raise typer.Exit(0 if job["status"] == "succeeded" else 1)


def _follow(api: RecalldClient, job_id: str) -> JSON:
    """Print a job's events as they come, until it ends; then the job as it ended."""
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
            out.print(f"next run: {data['next_job_id']} at {_utc(data['run_after'])}", markup=False)
        elif event.kind == "schedule_stopped":
            out.print(f"schedule stopped: {data['reason']}", markup=False)
    return api.jobs.get(job_id)
