"""The README stays true to the code it describes."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

from agent_runtime.core.settings import PREFIX, Settings

README = Path(__file__).parents[1] / "README.md"


def test_the_configuration_table_names_every_setting() -> None:
    text = README.read_text()
    table = text[text.index("## Configuration") :].split("\n\n")[1]
    named = set(re.findall(rf"`{PREFIX}([A-Z_]+)`", table))
    assert named == {f.name.upper() for f in dataclasses.fields(Settings)}


def test_it_opens_with_the_two_set_up_commands() -> None:
    fence = README.read_text().split("```")[1]
    commands = [line.split("#")[0].strip() for line in fence.splitlines()[1:] if line.strip()]
    assert commands == [".ci/install && .venv/bin/recalld serve", ".ci/install && .venv/bin/pytest"]
