"""The near-duplicate threshold: cosines of two values of one slot against rewordings of one
fact (bench/facts.py --near)."""

from __future__ import annotations

import json
import random
import statistics
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np
from fact_retrieval import observations
from fact_world import SINGLE, Event, world

from agent_runtime.embedding.minilm import MiniLMEmbedder
from agent_runtime.facts import rules, slots

PARAPHRASES = [
    ("Ada's favourite food is sushi", "Ada loves sushi more than any other food"),
    ("Melanie has two kids", "Melanie is a mother of two"),
    ("Caroline lives in Boston", "Caroline's home is in Boston"),
    ("Bo works at Acme", "Bo is employed by Acme"),
    ("Ada is a software engineer", "Ada works as a software engineer"),
    ("Tim is allergic to peanuts", "Tim has a peanut allergy"),
    ("Nia's birthday is on 3 May", "Nia was born on the 3rd of May"),
    ("Jon plays the guitar", "Jon is a guitar player"),
    ("Maria is vegetarian", "Maria does not eat meat"),
    ("Kai has a dog named Rex", "Kai owns a dog called Rex"),
    ("Lea is married to Tom", "Lea's husband is Tom"),
    ("Gus moved to Berlin in 2021", "In 2021 Gus relocated to Berlin"),
    ("Evan enjoys hiking", "Evan likes to go hiking"),
    ("Sam speaks fluent Spanish", "Sam is fluent in Spanish"),
    ("Rae studied biology at university", "Rae has a degree in biology"),
    ("Joanna's favourite band is Radiohead", "Joanna likes Radiohead best of all bands"),
    ("Milo is training for a marathon", "Milo is preparing to run a marathon"),
    ("Pia drinks her coffee black", "Pia takes her coffee without milk or sugar"),
    ("Hana has lived in Tokyo since 2019", "Hana has been living in Tokyo since 2019"),
    ("Oto is afraid of heights", "Oto has a fear of heights"),
    ("Zoe volunteers at an animal shelter", "Zoe does volunteer work at a shelter for animals"),
    ("Ivo's sister is called Mara", "Ivo has a sister named Mara"),
    ("Fay is learning to paint", "Fay is taking up painting"),
    ("Quin works night shifts", "Quin's shifts are at night"),
    ("Dev prefers tea to coffee", "Dev would rather drink tea than coffee"),
    ("Cleo reads a book every week", "Cleo finishes one book a week"),
    ("Uma is the team lead", "Uma leads the team"),
    ("Sol has three cats", "Sol owns three cats"),
    ("Eli goes to the gym every morning", "Eli works out at the gym each morning"),
    ("Tam was promoted to senior engineer", "Tam got a promotion to senior engineer"),
    ("Caroline is a transgender woman", "Caroline is a trans woman"),
    ("Nate won a video game tournament", "Nate came first in a gaming tournament"),
]


THRESHOLDS = (0.85, 0.88, 0.9, 0.93, 0.95, 0.97)


def cosines(embedder: MiniLMEmbedder, pairs: list[tuple[str, str]]) -> list[float]:
    texts = sorted({t for pair in pairs for t in pair})
    vectors = dict(zip(texts, embedder.embed(texts), strict=True))
    return [float(vectors[a] @ vectors[b]) for a, b in pairs]


def spread(values: list[float], guarded: list[bool]) -> dict:
    """The distribution of `values`, and the share that would merge at each threshold, by the
    cosine alone and with the guard `_near` adds: the same anchors (slots.anchors)."""
    return {
        "pairs": len(values),
        "min": round(min(values), 4),
        "p05": round(float(np.percentile(values, 5)), 4),
        "median": round(statistics.median(values), 4),
        "p95": round(float(np.percentile(values, 95)), 4),
        "max": round(max(values), 4),
        "share_at_or_above": {
            t: round(sum(v >= t for v in values) / len(values), 4) for t in THRESHOLDS
        },
        "share_at_or_above_same_anchors": {
            t: round(
                sum(v >= t and g for v, g in zip(values, guarded, strict=True)) / len(values), 4
            )
            for t in THRESHOLDS
        },
    }


def measured(embedder: MiniLMEmbedder, pairs: list[tuple[str, str]]) -> tuple[list[float], dict]:
    values = cosines(embedder, pairs)
    return values, spread(values, [slots.anchors(a) == slots.anchors(b) for a, b in pairs])


def near(subjects: int, seed: int, data: Path) -> dict:
    events = world(random.Random(seed), subjects)
    by_slot: dict[tuple[str, str], list[Event]] = defaultdict(list)
    for event in events:
        if not event.negates:
            by_slot[(event.subject, event.attribute)].append(event)
    groups: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for (subject, attribute), slot_events in by_slot.items():
        ordered = sorted(slot_events, key=lambda e: e.at)
        if attribute in SINGLE:  # each value and the next one
            pairs = list(zip(ordered, ordered[1:], strict=False))
        else:  # every two values held together
            pairs = [(a, b) for i, a in enumerate(ordered) for b in ordered[i + 1 :]]
        for a, b in pairs:
            if slots.value_key(a.value) != slots.value_key(b.value):
                groups[attribute].append(
                    (
                        slots.statement(subject, attribute, a.value),
                        slots.statement(subject, attribute, b.value),
                    )
                )
    embedder = MiniLMEmbedder()
    out: dict = {"threshold": rules.NEAR, "slot_values": {}, "closest": {}}
    every: list[tuple[str, str]] = []
    for attribute, statements in groups.items():
        values, out["slot_values"][attribute] = measured(embedder, statements)
        ranked = sorted(zip(values, statements, strict=True), reverse=True)
        out["closest"][attribute] = [(round(v, 4), *p) for v, p in ranked[:3]]
        every += statements
    out["slot_values"]["all"] = measured(embedder, every)[1]
    rewordings, out["paraphrases"] = measured(embedder, PARAPHRASES)
    out["paraphrase_values"] = [
        (round(v, 4), a, b) for v, (a, b) in sorted(zip(rewordings, PARAPHRASES, strict=True))
    ]
    out["locomo"] = locomo_pairs(embedder, data)
    return out


def locomo_pairs(embedder: MiniLMEmbedder, data: Path) -> dict:
    """Distinct observations of one speaker in one conversation at or above each threshold, by
    the cosine alone and with the same anchors."""
    above: Counter[float] = Counter()
    anchored: Counter[float] = Counter()
    pairs, examples = 0, []
    for sample in json.loads(data.read_text()):
        by_speaker: dict[str, list[str]] = defaultdict(list)
        for item in observations(sample):
            by_speaker[item.subject].append(item.text)
        for texts in by_speaker.values():
            unique = sorted(set(texts))
            vectors = embedder.embed(unique)
            similar = vectors @ vectors.T
            upper = np.triu_indices(len(unique), 1)
            pairs += len(upper[0])
            for i, j in zip(*upper, strict=True):
                value = float(similar[i, j])
                same = slots.anchors(unique[i]) == slots.anchors(unique[j])
                above.update(t for t in THRESHOLDS if value >= t)
                anchored.update(t for t in THRESHOLDS if value >= t and same)
                if value >= min(THRESHOLDS):
                    examples.append((round(value, 4), same, unique[i], unique[j]))
    return {
        "pairs": pairs,
        "at_or_above": {t: above[t] for t in THRESHOLDS},
        "at_or_above_same_anchors": {t: anchored[t] for t in THRESHOLDS},
        "examples": sorted(examples, reverse=True),
    }


def print_near(out: dict) -> None:
    print(f"NEAR = {out['threshold']}; share of pairs at or above {list(THRESHOLDS)}")
    rows = [(f"two values of a slot: {n}", r) for n, r in out["slot_values"].items()]
    for name, row in [*rows, ("paraphrases of one fact", out["paraphrases"])]:
        shares = " ".join(f"{v:.3f}" for v in row["share_at_or_above"].values())
        guarded = " ".join(f"{v:.3f}" for v in row["share_at_or_above_same_anchors"].values())
        print(
            f"  {name:<32} n {row['pairs']:>5}  min {row['min']:.3f} median {row['median']:.3f}"
            f" max {row['max']:.3f}  | {shares} | same anchors: {guarded}"
        )
    for attribute, examples in out["closest"].items():
        print(f"  closest {attribute}: {examples[0]}")
    for value, a, b in out["paraphrase_values"][:5]:
        print(f"  paraphrase {value}: {a!r} / {b!r}")
    locomo_ = out["locomo"]
    print(
        f"  LoCoMo observation pairs (of {locomo_['pairs']}) at or above: {locomo_['at_or_above']}"
    )
    print(f"    with the same anchors: {locomo_['at_or_above_same_anchors']}")
    for example in locomo_["examples"][:3]:
        print(f"    {example}")
