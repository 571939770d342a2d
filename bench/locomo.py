"""Retrieval quality on LoCoMo, scored on the very search `archival_memory_search` runs.

    .venv/bin/python bench/locomo.py [--data PATH] [--json OUT] [--png OUT] [--memory recall]

For each conversation a fresh agent gets one archival passage per turn ("speaker: text"), dated
with its session's date, as paging would have written it. Each question (adversarial ones left
out) is searched with `Runtime.search_archival`, the same hybrid search the tool uses, and scored
against its evidence turns: recall@5, recall@10 and NDCG@10, per category and overall. A plain
BM25 baseline (lower-case alphanumeric tokens, English stop words removed) runs on the same data.

With `--memory recall` the turns are imported into recall memory instead (the first speaker as
"user", the other as "assistant", the same "speaker: text" and times) and each question runs
`Runtime.search_recall`, the search `conversation_search` uses.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
import tempfile
import time
from collections import Counter, defaultdict
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from agent_runtime.core.settings import Settings  # noqa: E402
from agent_runtime.core.specs import AgentSpec, MessageInput, PassageInput  # noqa: E402
from agent_runtime.core.words import STOP_WORDS  # noqa: E402
from agent_runtime.llm.scripted import ScriptedLLM  # noqa: E402
from agent_runtime.runtime import Runtime  # noqa: E402

DEFAULT_DATA = (
    Path(__file__).resolve().parents[2] / "shared" / "data" / "locomo" / "locomo_dev.json"
)
CATEGORIES = {1: "multi-hop", 2: "temporal", 3: "open-domain", 4: "single-hop"}
TOKEN = re.compile(r"[a-z0-9]+")


def session_time(text: str) -> datetime:
    """'1:56 pm on 8 May, 2023' -> an aware datetime."""
    return datetime.strptime(text.strip(), "%I:%M %p on %d %B, %Y").replace(tzinfo=UTC)


def normalise(dia_id: str) -> str:
    session, _, turn = dia_id.strip().partition(":")
    return f"{session}:{int(turn)}" if turn.isdigit() else dia_id.strip()


def evidence_ids(raw: list[str]) -> set[str]:
    ids: set[str] = set()
    for item in raw:
        for part in re.split(r"[;,]", item):
            if ":" in part:
                ids.add(normalise(part))
    return ids


def turns_of(sample: dict) -> list[tuple[str, str, datetime]]:
    """(dia_id, "speaker: text", session time) for every turn, in order."""
    conversation = sample["conversation"]
    out = []
    index = 1
    while f"session_{index}" in conversation:
        when = session_time(conversation[f"session_{index}_date_time"])
        for turn in conversation[f"session_{index}"]:
            out.append((normalise(turn["dia_id"]), f"{turn['speaker']}: {turn['text']}", when))
        index += 1
    return out


def paged(turns: list[tuple[str, str, datetime]]) -> list[PassageInput]:
    """The passages paging writes for these turns: one each, with the turn before as context."""
    return [
        PassageInput(text, when, (), turns[i - 1][1] if i else "")
        for i, (_, text, when) in enumerate(turns)
    ]


def recorded(turns: list[tuple[str, str, datetime]]) -> list[MessageInput]:
    """The turns as recall history: the first speaker is the user, the other the assistant."""
    first = turns[0][1].split(":", 1)[0]
    return [
        MessageInput("user" if text.split(":", 1)[0] == first else "assistant", text, when)
        for _, text, when in turns
    ]


def ndcg(ranked: list[str], relevant: set[str], k: int = 10) -> float:
    dcg = sum(1 / math.log2(i + 2) for i, d in enumerate(ranked[:k]) if d in relevant)
    ideal = sum(1 / math.log2(i + 2) for i in range(min(len(relevant), k)))
    return dcg / ideal if ideal else 0.0


class BM25:
    """Okapi BM25 (k1 1.5, b 0.75) over lower-case alphanumeric tokens, stop words removed."""

    def __init__(self, docs: list[str]) -> None:
        self.docs = [[t for t in TOKEN.findall(d.lower()) if t not in STOP_WORDS] for d in docs]
        self.avg = sum(map(len, self.docs)) / max(len(self.docs), 1)
        df: Counter[str] = Counter(t for d in self.docs for t in set(d))
        n = len(self.docs)
        self.idf = {t: math.log((n - f + 0.5) / (f + 0.5) + 1) for t, f in df.items()}
        self.tf = [Counter(d) for d in self.docs]

    def rank(self, query: str, k: int) -> list[int]:
        terms = [t for t in TOKEN.findall(query.lower()) if t not in STOP_WORDS]
        scores = []
        for i, tf in enumerate(self.tf):
            length = len(self.docs[i])
            score = 0.0
            for t in terms:
                if t in tf:
                    f = tf[t]
                    score += self.idf[t] * f * 2.5 / (f + 1.5 * (0.25 + 0.75 * length / self.avg))
            scores.append(score)
        return sorted(range(len(scores)), key=lambda i: -scores[i])[:k]


class Scores:
    def __init__(self) -> None:
        self.rows: dict[str, list[tuple[float, float, float]]] = defaultdict(list)
        self.by_conversation: dict[str, list[float]] = defaultdict(list)

    def add(
        self, category: str, ranked: list[str], relevant: set[str], conversation: str = ""
    ) -> None:
        row = (
            len(relevant & set(ranked[:5])) / len(relevant),
            len(relevant & set(ranked[:10])) / len(relevant),
            ndcg(ranked, relevant),
        )
        self.rows[category].append(row)
        self.rows["overall"].append(row)
        self.by_conversation[conversation].append(row[1])

    def summary(self) -> dict[str, dict[str, float]]:
        out = {}
        for name in ["overall", *CATEGORIES.values()]:
            rows = self.rows.get(name, [])
            n = len(rows) or 1
            out[name] = {
                "n": len(rows),
                "recall@5": round(sum(r[0] for r in rows) / n, 4),
                "recall@10": round(sum(r[1] for r in rows) / n, 4),
                "ndcg@10": round(sum(r[2] for r in rows) / n, 4),
            }
        return out


def run(
    data: Path, embedding: str = "local", memory: str = "archival"
) -> tuple[dict, dict, dict, float]:
    samples = json.loads(data.read_text())
    ours, baseline = Scores(), Scores()
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as home:
        runtime = Runtime(Settings(home=Path(home), default_embedding=embedding), llm=ScriptedLLM())
        for sample in samples:
            turns = turns_of(sample)
            agent_id = runtime.create_agent(AgentSpec(name=sample["sample_id"])).id
            if len(turns) > 1000:
                raise SystemExit("conversation longer than the page this script reads")
            if memory == "recall":
                runtime.import_messages(agent_id, recorded(turns))
                ids = [m.id for m in runtime.messages(agent_id, limit=1000)]
                search = runtime.search_recall
            else:
                runtime.insert_passages(agent_id, paged(turns), origin="paged")
                ids = [p.id for p in runtime.passages(agent_id, limit=1000)]
                search = runtime.search_archival
            runtime.services.indexer.index_agent(agent_id)
            by_text_id = {row_id: i for i, row_id in enumerate(ids)}
            bm25 = BM25([text for _, text, _ in turns])
            for qa in sample["qa"]:
                category = CATEGORIES.get(qa["category"])
                relevant = evidence_ids(qa.get("evidence", []))
                if category is None or not relevant:
                    continue
                hits, _ = search(agent_id, qa["question"], limit=10)
                ranked = [turns[by_text_id[h.id]][0] for h in hits]
                ours.add(category, ranked, relevant, sample["sample_id"])
                baseline.add(
                    category, [turns[i][0] for i in bm25.rank(qa["question"], 10)], relevant
                )
        runtime.close()
    conversations = {
        name: {"n": len(rows), "recall@10": round(sum(rows) / len(rows), 4)}
        for name, rows in ours.by_conversation.items()
    }
    return ours.summary(), baseline.summary(), conversations, time.perf_counter() - started


def table(ours: dict, baseline: dict) -> str:
    lines = [
        f"{'':<12} {'n':>5}  {'recall@5':>17}  {'recall@10':>17}  {'ndcg@10':>17}",
        f"{'':<12} {'':>5}  {'recalld / bm25':>17}  {'recalld / bm25':>17}  {'recalld / bm25':>17}",
    ]
    for name, row in ours.items():
        base = baseline[name]
        cells = [f"{row[m]:.3f} / {base[m]:.3f}" for m in ("recall@5", "recall@10", "ndcg@10")]
        lines.append(f"{name:<12} {row['n']:>5}  " + "  ".join(f"{c:>17}" for c in cells))
    return "\n".join(lines)


def chart(ours: dict, baseline: dict, path: Path, search: str = "archival_memory_search") -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(ours)
    x = range(len(names))
    fig, ax = plt.subplots(figsize=(8, 4))
    ax.bar([i - 0.2 for i in x], [baseline[n]["recall@10"] for n in names], 0.4, label="BM25")
    ax.bar([i + 0.2 for i in x], [ours[n]["recall@10"] for n in names], 0.4, label="recalld")
    ax.set_xticks(list(x), names)
    ax.set_ylim(0, 1)
    ax.set_ylabel("recall@10")
    ax.set_title(f"LoCoMo, {search}: recall@10 by category")
    ax.legend()
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--png", type=Path, help="default: bench/out/locomo-<memory>.png")
    parser.add_argument("--embedding", default="local")
    parser.add_argument(
        "--memory",
        choices=["archival", "recall"],
        default="archival",
        help="score archival_memory_search (default) or conversation_search",
    )
    args = parser.parse_args()
    if not args.data.exists():
        raise SystemExit(f"no data at {args.data}; pass --data PATH")
    ours, baseline, conversations, seconds = run(args.data, args.embedding, args.memory)
    print(table(ours, baseline))
    spread = ", ".join(f"{name} {row['recall@10']:.3f}" for name, row in conversations.items())
    print(f"recall@10 by conversation: {spread}")
    print(f"({seconds:.0f} s)")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(
            json.dumps(
                {**ours, "baseline_bm25": baseline, "conversations": conversations}, indent=2
            )
        )
    try:
        png = args.png or Path(f"bench/out/locomo-{args.memory}.png")
        search = "conversation_search" if args.memory == "recall" else "archival_memory_search"
        chart(ours, baseline, png, search)
        print(f"chart: {png}")
    except ImportError:
        print("(no chart: pip install matplotlib)")


if __name__ == "__main__":
    main()
