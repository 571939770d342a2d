"""`recalld serve` and `recalld worker`: settings from the environment, a safety check on binding,
then uvicorn; or job workers on their own.

The runtime and the server are imported inside the functions, not at the top: they take about a
second to load, which every other command would pay at startup."""

from __future__ import annotations

import logging
import signal
import threading
from typing import TYPE_CHECKING

import typer
from rich.console import Console

from agent_runtime.core.errors import ConfigurationError
from cli.options import Options
from cli.output import err, friendly

log = logging.getLogger("recalld.serve")

if TYPE_CHECKING:
    from agent_runtime.runtime import Runtime


def serve(
    ctx: typer.Context,
    host: str = typer.Option("127.0.0.1", help="Address to bind."),
    port: int = typer.Option(8300, help="Port to bind."),
) -> None:
    """Run the server (SQLite + embedded Chroma under RECALLD_HOME unless configured)."""
    with friendly(Options.of(ctx).debug):
        run_server(host, port, err)


def worker(ctx: typer.Context, concurrency: int = typer.Option(1, help="Worker threads.")) -> None:
    """Run job workers on their own (they share the server's database)."""
    with friendly(Options.of(ctx).debug):
        run_workers(concurrency, err)


def run_server(host: str, port: int, console: Console) -> None:
    import uvicorn

    from agent_runtime.core.settings import Settings
    from agent_runtime.runtime import Runtime
    from agent_runtime.storage import keys
    from server.app import create_app
    from server.auth import is_loopback

    settings = Settings.from_env()
    runtime = Runtime(settings)
    if keys.any_configured(runtime.engine):
        console.print("API keys are configured: every request needs 'Authorization: Bearer <key>'")
    elif not is_loopback(host):
        runtime.close()
        raise ConfigurationError(
            f"refusing to listen on {host} with no API key configured; "
            "create one with 'recalld keys create --local --tenant NAME' or bind to 127.0.0.1"
        )
    else:
        console.print("no API key configured: serving loopback clients only")
    where = settings.database_url and "database from RECALLD_DATABASE_URL" or settings.home
    # Before listening: the server answers (health included) only once a first turn would not
    # wait for the models to load, so a load balancer sends no request to a cold replica.
    _warm(runtime)
    console.print(
        f"recalld on http://{host}:{port} (data: {where}, default model: {settings.default_model})"
    )
    try:
        uvicorn.run(
            create_app(settings, runtime=runtime), host=host, port=port, log_level="warning"
        )
    finally:
        runtime.close()


def _warm(runtime: Runtime) -> None:
    try:
        runtime.warm_up()
    except Exception:  # a failure here shows up again, with its real message, on first use
        log.warning("warming up failed; the first turn will load the models", exc_info=True)


def run_workers(concurrency: int, console: Console) -> None:
    """Job workers in the foreground until SIGINT or SIGTERM; the current steps finish first."""
    from agent_runtime.core.settings import Settings
    from agent_runtime.jobs.worker import WorkerPool
    from agent_runtime.runtime import Runtime

    if concurrency < 1:
        raise ConfigurationError("--concurrency must be at least 1")
    settings = Settings.from_env()
    runtime = Runtime(settings)
    _warm(runtime)  # a first job step would otherwise wait for litellm and the embedder
    pool = WorkerPool(runtime, concurrency)
    stopping = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stopping.set())
    pool.start()
    runtime.pipeline.start(settings.extraction_threads)  # and fact extraction beside them
    console.print(
        f"{concurrency} job worker(s) and {settings.extraction_threads} fact extraction "
        "thread(s) running; Ctrl-C to stop"
    )
    stopping.wait()
    console.print("stopping: finishing the current steps")
    pool.stop()
    runtime.close()
