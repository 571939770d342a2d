"""Fact memory's retrieval on LoCoMo (bench/facts.py, its docstring says how it is scored)."""

from __future__ import annotations

import json
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path

import locomo  # bench/locomo.py
from fact_runtime import TENANT, runtime_in

from agent_runtime.core.specs import AgentSpec, FactInput, Scope
from agent_runtime.core.vocabulary import Origin
from agent_runtime.llm.litellm_model import count_tokens
from agent_runtime.retrieval.search import Fusion
from agent_runtime.runtime import Runtime

TOKENS_OF = "gpt-4o"  # the tokenizer counted with (litellm's, offline)


def observations(sample: dict) -> list[FactInput]:
    """A conversation's observations as free facts: the speaker's, at the session's date."""
    conversation = sample["conversation"]
    out = []
    for key, by_speaker in sample["observation"].items():
        session = key.split("_")[1]
        when = locomo.session_time(conversation[f"session_{session}_date_time"])
        for speaker, items in by_speaker.items():
            for text, cited in items:
                ids = locomo.evidence_ids(cited if isinstance(cited, list) else [cited])
                out.append(
                    FactInput(
                        text=text,
                        subject=speaker,
                        valid_at=when,
                        evidence=sorted(ids),
                        metadata={"session": int(session)},
                    )
                )
    return out


def credited(cited: Sequence[Sequence[str]], relevant: set[str]) -> list[str]:
    """Each hit as the evidence turn it is credited with (none twice), or "" for a miss."""
    seen: set[str] = set()
    out = []
    for ids in cited:
        match = next((i for i in ids if i in relevant and i not in seen), "")
        seen.add(match)
        out.append(match)
    return out


class Scores(locomo.Scores):
    """bench/locomo.py's scores for hits that may cite several turns, with the tokens of the
    top 10; given 20 hits, also recall@20 and its tokens (facts are short: 20 cost about what
    10 turns do)."""

    def __init__(self) -> None:
        super().__init__()
        self.extra: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))

    def hits(
        self,
        category: str,
        cited: Sequence[Sequence[str]],
        relevant: set[str],
        conversation: str,
        texts: list[str],
    ) -> None:
        def found(k: int) -> float:
            return len(relevant & set().union(*cited[:k])) / len(relevant)

        row = (found(5), found(10), locomo.ndcg(credited(cited[:10], relevant), relevant))
        self.rows[category].append(row)
        self.rows["overall"].append(row)
        self.by_conversation[conversation].append(row[1])
        for name in (category, "overall"):
            self.extra[name]["tokens@10"].append(sum(tokens_of(t) for t in texts[:10]))
            if len(cited) > 10:
                self.extra[name]["recall@20"].append(found(20))
                self.extra[name]["tokens@20"].append(sum(tokens_of(t) for t in texts[:20]))

    def summary(self) -> dict[str, dict[str, float]]:
        out = super().summary()
        for name, row in out.items():
            for metric, values in self.extra[name].items():
                row[metric] = round(sum(values) / len(values), 4 if "recall" in metric else 1)
        return out


@lru_cache(maxsize=100_000)
def tokens_of(text: str) -> int:
    return count_tokens(TOKENS_OF, text=text)


def questions(sample: dict) -> list[tuple[str, str, set[str]]]:
    """(category, question, evidence ids) of a conversation, adversarial ones left out."""
    out = []
    for qa in sample["qa"]:
        category = locomo.CATEGORIES.get(qa["category"])
        relevant = locomo.evidence_ids(qa.get("evidence", []))
        if category is not None and relevant:
            out.append((category, qa["question"], relevant))
    return out


@dataclass(frozen=True)
class Variant:
    name: str
    fusion: Fusion
    speaker_filter: bool = False  # a question naming one speaker searches that speaker's facts


def variants() -> list[Variant]:
    base = Fusion()
    return [
        Variant("default", base),
        Variant("keyword only", replace(base, dense_weight=0.0)),
        Variant("dense only", replace(base, keyword_weight=0.0)),
        Variant("no time hint", replace(base, time_weight=0.0)),
        Variant("plain RRF k=60", replace(base, k=60)),
        Variant("dense 1.0", replace(base, dense_weight=1.0)),
        Variant("dense 1.25", replace(base, dense_weight=1.25)),
        Variant("dense 1.5", replace(base, dense_weight=1.5)),
        Variant("dense 2.0", replace(base, dense_weight=2.0)),
        Variant("k=10, dense 1.25", replace(base, k=10, dense_weight=1.25)),
        Variant("k=20, dense 1.25", replace(base, k=20, dense_weight=1.25)),
        Variant("speaker filter", base, speaker_filter=True),
    ]


def named_speaker(question: str, speakers: list[str]) -> str | None:
    named = [s for s in speakers if s.lower() in question.lower()]
    return named[0] if len(named) == 1 else None


def fact_search(runtime: Runtime, sample: dict, variant: Variant, scores: Scores) -> None:
    scope = Scope(user_id=sample["sample_id"])
    speakers = [sample["conversation"]["speaker_a"], sample["conversation"]["speaker_b"]]
    for category, question, relevant in questions(sample):
        speaker = named_speaker(question, speakers) if variant.speaker_filter else None
        filters = None if speaker is None else {"subject": speaker}
        hits = runtime.facts.search(TENANT, question, scope, filters=filters, limit=20)
        cited = [list(h.fact.evidence) for h in hits]
        texts = [f"{h.fact.subject}: {h.fact.text}" for h in hits]
        scores.hits(category, cited, relevant, sample["sample_id"], texts)


def retrieval(data: Path, sweep: bool) -> dict:
    samples = json.loads(data.read_text())
    facts, turns, bm25 = Scores(), Scores(), Scores()
    written: Counter[str] = Counter()
    ceiling: dict[str, list[float]] = defaultdict(list)  # share of evidence some fact cites
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as home:
        runtime = runtime_in(Path(home))
        for sample in samples:
            items = observations(sample)
            scope = Scope(user_id=sample["sample_id"])
            result = runtime.facts.write(TENANT, items, scope)
            written.update(added=len(result.added), merged=len(result.merged))
            cites = {i for item in items for i in item.evidence}
            for category, _question, relevant in questions(sample):
                for name in (category, "overall"):
                    ceiling[name].append(len(relevant & cites) / len(relevant))
            # the turns, as bench/locomo.py writes and searches them
            spoken = locomo.turns_of(sample)
            agent_id = runtime.create_agent(AgentSpec(name=sample["sample_id"])).id
            runtime.insert_passages(agent_id, locomo.paged(spoken), origin=Origin.PAGED)
            runtime.services.indexer.index_agent(agent_id)
            row_of = {p.id: i for i, p in enumerate(runtime.passages(agent_id, limit=1000))}
            plain = locomo.BM25([f"{item.subject}: {item.text}" for item in items])
            for category, question, relevant in questions(sample):
                hits, _ = runtime.search_archival(agent_id, question, limit=10)
                picked = [spoken[row_of[h.id]] for h in hits]
                turns.hits(
                    category,
                    [[dia] for dia, _t, _w in picked],
                    relevant,
                    sample["sample_id"],
                    [text for _d, text, _w in picked],
                )
                ranked = [items[i] for i in plain.rank(question, 10)]
                bm25.hits(
                    category,
                    [list(i.evidence) for i in ranked],
                    relevant,
                    sample["sample_id"],
                    [f"{i.subject}: {i.text}" for i in ranked],
                )
            fact_search(runtime, sample, variants()[0], facts)
        tried = {}
        if sweep:
            for variant in variants()[1:]:
                runtime.facts.searcher.fusion = variant.fusion
                scores = Scores()
                for sample in samples:
                    fact_search(runtime, sample, variant, scores)
                tried[variant.name] = scores.summary()
                print(f"  {variant.name:<18} {_line(tried[variant.name]['overall'])}")
        runtime.close()
    conversations = {
        name: {"n": len(rows), "recall@10": round(sum(rows) / len(rows), 4)}
        for name, rows in facts.by_conversation.items()
    }
    return {
        **facts.summary(),
        "turns": turns.summary(),
        "observation_bm25": bm25.summary(),
        "conversations": conversations,
        "facts_written": dict(written),
        "observation_ceiling": {n: round(sum(v) / len(v), 4) for n, v in ceiling.items()},
        "sweep": tried,
        "seconds": round(time.perf_counter() - started, 1),
    }


def _line(row: dict) -> str:
    return (
        f"r@5 {row['recall@5']:.3f}  r@10 {row['recall@10']:.3f}  "
        f"ndcg@10 {row['ndcg@10']:.3f}  tokens@10 {row['tokens@10']:.0f}  "
        f"r@20 {row.get('recall@20', 0):.3f} ({row.get('tokens@20', 0):.0f} tokens)"
    )


def print_retrieval(out: dict) -> None:
    print(f"{'':<12} {'n':>4}  {'facts':<82} {'ceiling':>7}  turns r@10, tokens  obs. BM25 r@10")
    for name in ["overall", *locomo.CATEGORIES.values()]:
        row, turn, plain = out[name], out["turns"][name], out["observation_bm25"][name]
        print(
            f"{name:<12} {row['n']:>4}  {_line(row)}   {out['observation_ceiling'][name]:>7.3f}"
            f"  {turn['recall@10']:.3f}, {turn['tokens@10']:.0f}  {plain['recall@10']:>14.3f}"
        )
    spread = ", ".join(f"{n} {r['recall@10']:.3f}" for n, r in out["conversations"].items())
    print(f"facts recall@10 by conversation: {spread}")
    print(f"written {out['facts_written']} ({out['seconds']:.0f} s)")
