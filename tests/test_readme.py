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


def test_the_python_api_example_imports_what_exists() -> None:
    text = README.read_text()
    block = text[text.index("## Python API") :].split("```python")[1].split("```")[0]
    imports = [line for line in block.splitlines() if line.startswith(("from ", "import "))]
    assert len(imports) >= 3
    exec("\n".join(imports), {})  # noqa: S102 (the README's own import lines)
