"""`recalld mcp`: recalld as an MCP server on stdin and stdout, for a local MCP client (a desktop
assistant, an IDE) that starts it as a subprocess.

It runs like `recalld worker`: a runtime of its own on this machine's database (settings from
RECALLD_*), no server needed. Whoever can start it can read RECALLD_HOME already, so it acts as
the operator, for one tenant: `default`, or `--tenant`. The server's own MCP endpoint is
`<url>/mcp` (streamable HTTP, with the same API keys as the REST API)."""

from __future__ import annotations

import typer

from cli.options import Options
from cli.output import friendly


def mcp(
    ctx: typer.Context,
    tenant: str = typer.Option("default", help="The tenant whose memory and agents it serves."),
) -> None:
    """Serve MCP on stdin/stdout (as the operator, on this machine's database)."""
    with friendly(Options.of(ctx).debug):
        run_stdio(tenant)


def run_stdio(tenant: str) -> None:
    """Until the client closes stdin. Fact extraction runs beside it, as in `recalld worker`."""
    import anyio

    from agent_runtime.core.settings import Settings
    from agent_runtime.runtime import Runtime
    from server.mcp_server import serve_stdio

    settings = Settings.from_env()
    runtime = Runtime(settings)
    try:
        runtime.pipeline.start(settings.extraction_threads)
        anyio.run(serve_stdio, runtime, tenant)
    finally:
        runtime.close()
