"""Fixtures for running the `recalld` command in-process (typer's runner: stdin and stdout are not
terminals)."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


@pytest.fixture
def nowhere() -> str:
    """A server URL nothing listens on: a command that got as far as the server says it cannot
    reach it."""
    return "http://127.0.0.1:9"
