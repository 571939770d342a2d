"""The global options (--url, --key, --debug): read once by the root callback in `cli.main` and
handed to every command through typer's context (`ctx.obj`)."""

from __future__ import annotations

from dataclasses import dataclass

import typer

from cli.client import RecalldClient


@dataclass(frozen=True)
class Options:
    """What the global options chose, for one run of the command."""

    url: str
    key: str | None
    debug: bool

    @classmethod
    def of(cls, ctx: typer.Context) -> Options:
        """The options the root callback stored in `ctx.obj` (sub-commands inherit it)."""
        if not isinstance(ctx.obj, cls):
            raise TypeError(
                f"ctx.obj is {ctx.obj!r}, not Options: run cli.main.app, or pass obj=Options(...)"
            )
        return ctx.obj

    def client(self) -> RecalldClient:
        return RecalldClient(self.url, self.key)
