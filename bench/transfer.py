"""Export and import of a large agent: time, document size, and the memory each holds.
Not part of the test suite.

    .venv/bin/python bench/transfer.py [--messages 10000 50000] [--json OUT]

An agent gets `--messages` messages of about 200 characters (recall import), then is exported
(streamed to a file, as the CLI does) and the document imported into a second database. Peak
memory is Python's own allocations during each phase (tracemalloc), next to the document's size:
a streamed export holds a page of rows at a time, whatever the agent's size; an import holds the
document it was sent (bounded by RECALLD_MAX_BODY_BYTES) and a batch of rows.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from agent_runtime.agent_file import AgentDocument  # noqa: E402
from agent_runtime.core.settings import Settings  # noqa: E402
from agent_runtime.core.specs import AgentSpec, MessageInput  # noqa: E402
from agent_runtime.embedding.fake import FakeEmbedder  # noqa: E402
from agent_runtime.retrieval.vector_index import MemoryIndex  # noqa: E402
from agent_runtime.runtime import Runtime  # noqa: E402

TEXT = "Ada told me about her week: the locker code, the move, the marathon plan. " * 3


def runtime(home: Path, background: bool = False) -> Runtime:
    """`background`: vectors are made by the indexer thread, as in a server, not in the
    import's own time."""
    return Runtime(
        Settings(home=home),
        embedder_factory=lambda _n: FakeEmbedder(),
        index=MemoryIndex(),
        background_indexing=background,
    )


def one(root: Path, messages: int) -> dict[str, object]:
    source = runtime(root / "source")
    agent = source.create_agent(AgentSpec(name="big")).id
    for start in range(0, messages, 10_000):
        batch = range(start, min(start + 10_000, messages))
        source.import_messages(
            agent, [MessageInput("user" if i % 2 else "assistant", f"{i} {TEXT}") for i in batch]
        )
    path = root / "big.json"
    tracemalloc.start()
    t = time.perf_counter()
    with path.open("w") as file:
        for piece in source.export_agent(agent):
            file.write(piece)
    export_s = time.perf_counter() - t
    _, export_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    size = path.stat().st_size
    source.close()
    target = runtime(root / "target", background=True)
    tracemalloc.start()
    t = time.perf_counter()
    document = AgentDocument.model_validate_json(path.read_bytes())
    done = target.importer.agent("default", document)
    import_s = time.perf_counter() - t
    _, import_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert done.agent is not None and done.agent.message_count == messages
    target.close()
    return {
        "messages": messages,
        "document_mb": round(size / 2**20, 2),
        "export_s": round(export_s, 2),
        "export_peak_mb": round(export_peak / 2**20, 2),
        "import_s": round(import_s, 2),
        "import_peak_mb": round(import_peak / 2**20, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, nargs="+", default=[10_000, 50_000])
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    rows = []
    for n in args.messages:
        with tempfile.TemporaryDirectory() as tmp:
            row = one(Path(tmp), n)
        rows.append(row)
        print(json.dumps(row), flush=True)
    result = {"machine": platform.processor() or platform.machine(), "runs": rows}
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
