"""What every command shares about its output: the two consoles, plain help, the friendly-error
boundary, and --json."""

from __future__ import annotations

import json
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import typer
from rich.console import Console
from rich.markup import escape

from agent_runtime.core.errors import RecalldError
from cli.client import ApiError

out = Console(highlight=False)
err = Console(stderr=True, highlight=False)


def fit_consoles() -> None:
    """Piped output keeps its long lines whole, for the program or file reading it. Asked when
    the command runs, not at import, since a test runner swaps stdout in between."""
    for console in (out, err):
        console.soft_wrap = not console.is_terminal


def group(help: str) -> typer.Typer:
    """A typer app for one noun (or the root) with plain help.

    Plain, not Rich's panels: those show flags such as --json as taking a "<bool>", and draw
    their boxes 80 columns wide when the output is not a terminal."""
    return typer.Typer(
        help=help,
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
        rich_markup_mode=None,
    )


@contextmanager
def friendly(debug: bool) -> Iterator[None]:
    """Turn an error from the server or the runtime into one line on stderr and exit code 1
    (with --debug, the traceback first)."""
    try:
        yield
    except (ApiError, RecalldError) as exc:
        if debug:
            traceback.print_exc()
        err.print(f"[red]error:[/red] {escape(str(exc))}")
        raise typer.Exit(1) from None


def emit(data: Any, as_json: bool, human: Callable[[], None]) -> None:
    """Print `data` as JSON with --json, else call `human` to print it for a person."""
    if as_json:
        print(json.dumps(data, indent=2, ensure_ascii=False))
    else:
        human()
