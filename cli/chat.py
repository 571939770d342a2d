"""`recalld chat`: talk to an agent from the terminal, interactive or piped."""

from __future__ import annotations

import json
from collections.abc import Iterable

from rich.console import Console
from rich.markdown import Markdown
from rich.table import Table

from cli.client import ApiError, RecalldClient

HELP = """Commands:
  /memory          show the agent's core memory blocks
  /context         show what fills the context window, in tokens
  /search QUERY    search archival memory and the conversation history
  /help            this help
  /exit            leave (Ctrl-D works too)
Anything else is sent to the agent."""


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
    def __init__(self, api: RecalldClient, agent: dict, console: Console, interactive: bool):
        self.api = api
        self.agent = agent
        self.console = console
        self.interactive = interactive

    def run(self, lines: Iterable[str]) -> None:
        for line in lines:
            if not self.handle(line):
                break

    def handle(self, line: str) -> bool:
        """Handle one input line; False means the session should end."""
        text = line.strip()
        if not text:
            return True
        if text.startswith("/"):
            return self.command(text)
        try:
            self.send(text)
        except ApiError as exc:
            self.console.print(f"[red]error:[/red] {exc}")
        return True

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
                    f"[bold]{block['label']}[/bold] [dim]({block['size']}/{block['limit']}"
                    f"{', read-only' if block['read_only'] else ''})[/dim]"
                )
                self.console.print(block["value"] or "[dim](empty)[/dim]")
        elif name == "/context":
            ctx = self.api.context(agent_id)
            table = Table("part", "tokens", box=None)
            for part in ("system", "blocks", "summary", "messages", "tools", "total", "window"):
                table.add_row(part, str(ctx[part]))
            self.console.print(table)
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
                self.console.print(f"  [dim]{hit['created_at'][:16]}[/dim] {short(hit['text'])}")
            self.console.print(
                "[bold]conversation[/bold]" if recall else "[dim]conversation: nothing[/dim]"
            )
            for hit in recall:
                self.console.print(
                    f"  [dim]{hit['created_at'][:16]} {hit['role']}[/dim] {short(hit['text'])}"
                )
        else:
            self.console.print(f"unknown command {name}; /help lists them")
        return True

    def send(self, text: str) -> None:
        status = self.console.status("thinking…") if self.interactive else None
        if status:
            status.start()
        try:
            for event in self.api.stream(self.agent["id"], text):
                if status and event.kind in ("tool_call", "assistant_message", "done", "error"):
                    status.stop()
                self.render(event.kind, event.data)
                if status and event.kind in ("tool_result",):
                    status.start()
        finally:
            if status:
                status.stop()

    def render(self, kind: str, data: dict) -> None:
        if kind == "tool_call":
            icon = "✎" if data["name"].startswith("core_memory") else "⚙"
            self.console.print(
                f"[dim]{icon} {describe_call(data['name'], data['arguments'])}[/dim]"
            )
        elif kind == "tool_result":
            self.console.print(f"[dim]  → {short(data['content'])}[/dim]")
        elif kind == "assistant_message":
            name = self.agent["name"]
            if self.interactive:
                self.console.print(f"[bold cyan]{name}[/bold cyan]")
                self.console.print(Markdown(data["content"]))
            else:
                self.console.print(f"{name}: {data['content']}", markup=False, highlight=False)
        elif kind == "done" and data["stop_reason"] != "end_turn":
            self.console.print(f"[yellow](stopped: {data['stop_reason']})[/yellow]")
        elif kind == "error":
            error = data.get("error", {})
            self.console.print(f"[red]error:[/red] {error.get('message', data)}")
