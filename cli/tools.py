"""`recalld tools`: the tenant's custom tools, attaching them to agents, and MCP servers (whose
tools join the list as SERVER__TOOL). HTTP tools are made over REST or the Python client: their
JSON schema is more than a command line holds."""

from __future__ import annotations

import shlex

import typer

from cli.client import JSON
from cli.options import Options
from cli.output import emit, friendly, group, out

app = group("Custom tools (HTTP endpoints and MCP servers' tools) and the agents that call them.")
AS_JSON = typer.Option(False, "--json")


def _line(tool: JSON) -> str:
    origin = "mcp" if tool.get("mcp_server") else tool["method"]
    summary = (tool["description"] or "").splitlines()[0:1]
    return f"{tool['name']:<32} {origin:<6} {summary[0] if summary else ''}".rstrip()


@app.command("list")
def list_(ctx: typer.Context, as_json: bool = AS_JSON) -> None:
    """The tenant's tools."""
    options = Options.of(ctx)
    with options.client() as api, friendly(options.debug):
        tools = api.tools.list()["data"]

    def human() -> None:
        if not tools:
            out.print("no tools yet (POST /v1/tools, or recalld tools mcp-add)", markup=False)
        for tool in tools:
            out.print(_line(tool), markup=False)

    emit(tools, as_json, human)


@app.command("attach")
def attach(ctx: typer.Context, agent: str, tool: str, as_json: bool = AS_JSON) -> None:
    """Let an agent call a tool (by id or name): its model sees it in every step."""
    options = Options.of(ctx)
    with options.client() as api, friendly(options.debug):
        found = api.find_agent(agent)
        attached = api.tools.attach(found["id"], tool)
    emit(
        attached,
        as_json,
        lambda: out.print(f"{found['name']} may call {attached['name']}", markup=False),
    )


@app.command("detach")
def detach(ctx: typer.Context, agent: str, tool: str) -> None:
    """Take a tool away from an agent."""
    options = Options.of(ctx)
    with options.client() as api, friendly(options.debug):
        found = api.find_agent(agent)
        api.tools.detach(found["id"], tool)
    out.print(f"{found['name']} no longer calls {tool}", markup=False)


@app.command("delete")
def delete(ctx: typer.Context, tool: str) -> None:
    """Delete an HTTP tool, detaching it from every agent."""
    options = Options.of(ctx)
    with options.client() as api, friendly(options.debug):
        api.tools.delete(tool)
    out.print(f"deleted {tool}", markup=False)


def _server(server: JSON) -> None:
    where = server["url"] or shlex.join(server["command"])
    out.print(f"{server['name']} ({server['transport']}, {where})", markup=False)
    for tool in server["tools"]:
        out.print("  " + _line(tool), markup=False)
    for reason in server["skipped"]:
        out.print(f"  skipped {reason}", markup=False)


@app.command("mcp-add")
def mcp_add(
    ctx: typer.Context,
    name: str,
    url: str | None = typer.Argument(None, help="The server's MCP endpoint (http or sse)."),
    sse: bool = typer.Option(False, "--sse", help="The older SSE transport."),
    command: str | None = typer.Option(
        None, "--command", help="Start it as a local command over stdio (the operator allows it)."
    ),
    header: list[str] = typer.Option(
        [], "--header", metavar="NAME=VALUE", help="A header (repeat); values may be ${secret:X}."
    ),
    as_json: bool = AS_JSON,
) -> None:
    """Register an MCP server and take its tools."""
    options = Options.of(ctx)
    if (url is None) == (command is None):
        raise typer.BadParameter("give the server's URL or --command, one of them")
    headers = {}
    for item in header:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise typer.BadParameter(f"{item!r} is not NAME=VALUE", param_hint="--header")
        headers[key] = value
    transport = "stdio" if command else "sse" if sse else "http"
    with options.client() as api, friendly(options.debug):
        made = api.tools.add_mcp_server(
            name,
            url=url,
            transport=transport,
            headers=headers or None,
            command=shlex.split(command) if command else None,
        )
    emit(made, as_json, lambda: _server(made))


@app.command("mcp-list")
def mcp_list(ctx: typer.Context, as_json: bool = AS_JSON) -> None:
    """The tenant's MCP servers and their tools."""
    options = Options.of(ctx)
    with options.client() as api, friendly(options.debug):
        servers = api.tools.mcp_servers()["data"]

    def human() -> None:
        if not servers:
            out.print("no MCP servers yet (recalld tools mcp-add NAME URL)", markup=False)
        for server in servers:
            _server(server)

    emit(servers, as_json, human)


@app.command("mcp-refresh")
def mcp_refresh(ctx: typer.Context, server: str, as_json: bool = AS_JSON) -> None:
    """List a server's tools again (new ones added, gone ones removed and detached)."""
    options = Options.of(ctx)
    with options.client() as api, friendly(options.debug):
        found = api.tools.refresh_mcp_server(server)
    emit(found, as_json, lambda: _server(found))


@app.command("mcp-remove")
def mcp_remove(ctx: typer.Context, server: str) -> None:
    """Delete an MCP server and its tools."""
    options = Options.of(ctx)
    with options.client() as api, friendly(options.debug):
        api.tools.delete_mcp_server(server)
    out.print(f"removed {server} and its tools", markup=False)
