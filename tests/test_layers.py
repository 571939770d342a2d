"""agent_runtime's folders are layers: a module imports only from its own layer and those below.

core → storage → llm, embedding → memory → retrieval → facts, tools → turns → jobs →
runtime.py, stores.py
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).parents[1] / "agent_runtime"
ORDER = {
    "core": 0,
    "storage": 1,
    "llm": 2,
    "embedding": 2,
    "memory": 3,
    "retrieval": 4,
    "facts": 5,
    "tools": 5,
    "turns": 6,
    "jobs": 7,
    "": 8,  # runtime.py and stores.py, the Python API on top
}
IMPORT = re.compile(r"^\s*from (agent_runtime(?:\.\w+)*) import", re.M)
TYPE_CHECKING_BLOCK = re.compile(r"^if TYPE_CHECKING:.*?(?=^\S)", re.M | re.S)


def layer(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in ORDER else ""


def test_no_import_runs_up_the_layers() -> None:
    upward = []
    for path in ROOT.rglob("*.py"):
        if "migrations" in path.parts:
            continue
        relative = path.relative_to(ROOT.parent).with_suffix("")
        mine = layer(".".join(relative.parts))
        source = TYPE_CHECKING_BLOCK.sub("", path.read_text())
        for imported in IMPORT.findall(source):
            if ORDER[layer(imported)] > ORDER[mine]:
                upward.append(f"{relative} imports {imported}")
    assert upward == []


def test_no_folder_is_too_big_to_read() -> None:
    for folder in [ROOT, *[p for p in ROOT.iterdir() if p.is_dir()]]:
        modules = [p for p in folder.glob("*.py") if p.name != "__init__.py"]
        assert len(modules) <= 15, folder
