"""`recalld chat`: talk to an agent from the terminal, interactive or piped."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Iterator

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from cli.client import JSON, ApiError, RecalldClient
from cli.options import Options
from cli.output import err, friendly, out

HELP = """Commands:
  /memory          show the agent's core memory blocks
  /context         show what fills the context window, in tokens
  /prompt          show the system prompt the model sees (instructions, memory, summary)
  /summary         show the running summary of turns paged out of the context window
  /search QUERY    search archival memory and the conversation history
  /help            this help
  /exit            leave (Ctrl-D works too)
Anything else is sent to the agent."""


def chat(
    ctx: typer.Context,
    agent: str | None = typer.Argument(None, help="Agent id or name (default: 'chat')."),
) -> None:
    """Chat with an agent. Piped, it reads lines from stdin and stops with exit code 1 at the
    first turn or command that fails."""
    options = Options.of(ctx)
    interactive = sys.stdin.isatty()
    with options.client() as api:
        with friendly(options.debug):
            chosen = _pick(api, agent)
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


def _pick(api: RecalldClient, agent: str | None) -> JSON:
    """The agent named, or else the one called 'chat', made if there is none yet."""
    if agent:
        return api.find_agent(agent)
    found: list[JSON] = api.list_agents(name="chat", limit=1)["data"]
    if found:
        return found[0]
    made = api.create_agent("chat")
    err.print(f"created agent 'chat' ({made['id']}, model {made['model']})", markup=False)
    return made


def _prompt_lines() -> Iterator[str]:
    while True:
        try:
            yield out.input("[bold green]you[/bold green] › ")
        except (EOFError, KeyboardInterrupt):
            out.print()
            return


def short(text: str, width: int = 90) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


def describe_call(name: str, arguments: str) -> str:
    try:
        args = json.loads(arguments)
        shown = ", ".join(f"{k}={json.dumps(v, ensure_ascii=False)}" for k, v in args.items())
    except (ValueError, AttributeError):
        shown = arguments
    return f"{name}({short(shown, 110)})"


class ChatSession:
    """One chat with one agent. A failed turn or command is shown and the session goes on; a
    piped (non-interactive) session instead stops there with `failed` set."""

    def __init__(
        self,
        api: RecalldClient,
        agent: dict,
        console: Console,
        interactive: bool,
        errors: Console | None = None,
    ) -> None:
        self.api = api
        self.agent = agent
        self.console = console
        self.errors = errors or console
        self.interactive = interactive
        self.failed = False
        self.streaming = False  # an assistant reply is being printed as its tokens come

    def run(self, lines: Iterable[str]) -> None:
        for line in lines:
            if not self.handle(line):
                break

    def handle(self, line: str) -> bool:
        """Handle one input line; False means the session should end."""
        text = line.strip()
        if not text:
            return True
        try:
            if text.startswith("/"):
                return self.command(text)
            self.send(text)
        except ApiError as exc:
            self.error(str(exc))
        return self.interactive or not self.failed

    def error(self, message: str) -> None:
        self.failed = True
        self.errors.print(f"[red]error:[/red] {escape(message)}")

    def command(self, text: str) -> bool:
        name, _, rest = text.partition(" ")
        agent_id = self.agent["id"]
        if name in ("/exit", "/quit"):
            return False
        if name == "/help":
            self.console.print(HELP)
        elif name == "/memory":
            for block in self.api.blocks(agent_id)["data"]:
                self.console.print(
                    f"[bold]{escape(block['label'])}[/bold] [dim]({block['size']}/{block['limit']}"
                    f"{', read-only' if block['read_only'] else ''})[/dim]"
                )
                self.text(block["value"], "(empty)")
        elif name == "/context":
            ctx = self.api.context(agent_id)
            table = Table("part", "tokens", box=None)
            parts = ("system", "blocks", "summary", "facts", "messages", "tools", "total", "window")
            for part in parts:
                table.add_row(part, str(ctx.get(part, 0)))
            self.console.print(table)
            if ctx.get("facts_text"):
                self.text(ctx["facts_text"], "")
        elif name == "/prompt":
            self.text(self.api.context(agent_id)["system_prompt"], "(empty)")
        elif name == "/summary":
            summary = self.api.context(agent_id)["summary_text"]
            self.text(summary, "(no summary yet: nothing has been paged out)")
        elif name == "/search":
            if not rest.strip():
                self.console.print("usage: /search QUERY")
                return True
            archival = self.api.search_archival(agent_id, rest, limit=5)["data"]
            recall = self.api.search_recall(agent_id, rest, limit=5)["data"]
            self.console.print(
                "[bold]archival[/bold]" if archival else "[dim]archival: nothing[/dim]"
            )
            for hit in archival:
                self.console.print(
                    f"  [dim]{hit['created_at'][:16]}[/dim] {escape(short(hit['text']))}"
                )
            self.console.print(
                "[bold]conversation[/bold]" if recall else "[dim]conversation: nothing[/dim]"
            )
            for hit in recall:
                self.console.print(
                    f"  [dim]{hit['created_at'][:16]} {hit['role']}[/dim] "
                    f"{escape(short(hit['text']))}"
                )
        else:
            self.console.print(f"unknown command {escape(name)}; /help lists them")
        return True

    def text(self, value: str, empty: str) -> None:
        """Print stored text as it is (never as markup), or a dim note when there is none."""
        if value:
            self.console.print(value, markup=False, highlight=False)
        else:
            self.console.print(f"[dim]{empty}[/dim]")

    def send(self, text: str) -> None:
        status = self.console.status("thinking…") if self.interactive else None
        if status:
            status.start()
        try:
            # Piped output stays one whole line per reply; a terminal sees the tokens come.
            for event in self.api.stream(self.agent["id"], text, tokens=self.interactive):
                if status and event.kind in (
                    "assistant_delta",
                    "tool_call",
                    "assistant_message",
                    "done",
                    "error",
                ):
                    status.stop()
                self.render(event.kind, event.data)
                if status and event.kind in ("tool_result",):
                    status.start()
        finally:
            if status:
                status.stop()

    def render(self, kind: str, data: dict) -> None:
        if kind == "assistant_delta":
            if not self.streaming:
                self.console.print(f"[bold cyan]{escape(self.agent['name'])}[/bold cyan]")
                self.streaming = True
            self.console.print(data["text"], end="", markup=False, highlight=False)
        elif kind == "delta_reset" and self.streaming:
            self.console.print("\n[dim](the model is answering again)[/dim]")
            self.streaming = False
        elif kind == "assistant_message" and self.streaming:
            self.console.print()  # its text is on the screen already
            self.streaming = False
        elif kind == "tool_call":
            icon = "✎" if data["name"].startswith("core_memory") else "⚙"
            self.console.print(
                f"[dim]{icon} {escape(describe_call(data['name'], data['arguments']))}[/dim]"
            )
        elif kind == "tool_result":
            self.console.print(f"[dim]  → {escape(short(data['content']))}[/dim]")
        elif kind == "assistant_message":
            name = self.agent["name"]
            if self.interactive:
                # Imported here: Markdown's parser adds a fifth to every command's startup.
                from rich.markdown import Markdown

                self.console.print(f"[bold cyan]{escape(name)}[/bold cyan]")
                self.console.print(Markdown(data["content"]))
            else:
                self.console.print(f"{name}: {data['content']}", markup=False, highlight=False)
        elif kind == "done" and data["stop_reason"] != "end_turn":
            self.console.print(f"[yellow](stopped: {data['stop_reason']})[/yellow]")
        elif kind == "error":
            error = data.get("error", {})
            self.error(str(error.get("message", data)))
