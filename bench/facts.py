"""Fact memory, measured: retrieval on LoCoMo, knowledge updates, speed, and the near threshold.

    .venv/bin/python bench/facts.py [--data PATH] [--json OUT] [--sweep]    retrieval on LoCoMo
    .venv/bin/python bench/facts.py --updates [--subjects 1000] [--near-threshold X] [--json OUT]
    .venv/bin/python bench/facts.py --speed [--facts 10000 100000] [--json OUT]
    .venv/bin/python bench/facts.py --near [--json OUT]

Retrieval: each conversation's `observation` entries become free facts (subject: the speaker,
valid at the session's date, evidence: the observation's turns) in a scope of their own; each
question (adversarial ones left out) runs `FactMemory.search` and is scored against its evidence
turns as bench/locomo.py scores turns: a fact retrieves the turns it cites. The same questions
run over the turns (`search_archival`, as bench/locomo.py) and a BM25 over the observations.
`--sweep` tries other fusions, and a subject filter, on the same facts.

Knowledge updates: a seeded world of people whose single-valued attributes change over the
years and whose many-valued ones grow and are negated, written as slot facts with a share
arriving late; then the current value, the value as of a date, and every value of a
many-valued slot are asked and checked against the world.

Speed: writes per second (one at a time, 100 a write), and search latency at 10,000 and 100,000
facts on embedded Chroma, with the query's embedding timed apart.

Near: cosines (local MiniLM) of two values of one slot, which must stay below `rules.NEAR`, and
of rewordings of one fact, which should reach it.
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from pathlib import Path

import numpy as np
from sqlmodel import Session, select

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import locomo  # noqa: E402  (bench/locomo.py)

from agent_runtime.core.settings import Settings  # noqa: E402
from agent_runtime.core.specs import AgentSpec, FactInput, Scope  # noqa: E402
from agent_runtime.core.vocabulary import Origin  # noqa: E402
from agent_runtime.embedding.minilm import MiniLMEmbedder  # noqa: E402
from agent_runtime.facts import filters as filters_  # noqa: E402
from agent_runtime.facts import rules, slots  # noqa: E402
from agent_runtime.llm.litellm_model import count_tokens  # noqa: E402
from agent_runtime.llm.scripted import ScriptedLLM  # noqa: E402
from agent_runtime.retrieval.search import Fusion  # noqa: E402
from agent_runtime.retrieval.vector_index import Space, VectorFilter  # noqa: E402
from agent_runtime.runtime import Runtime  # noqa: E402
from agent_runtime.storage.tables import Fact  # noqa: E402

TENANT = "default"
TOKENS_OF = "gpt-4o"  # the tokenizer counted with (litellm's, offline)


def machine() -> str:
    model = subprocess.getoutput("lscpu | sed -n 's/^Model name: *//p'").strip()
    return f"{model or platform.processor()}, {subprocess.getoutput('nproc')} cores"


def runtime_in(home: Path, embedder: MiniLMEmbedder | None = None) -> Runtime:
    """A runtime on `home` (SQLite, embedded Chroma) with the local embedder."""
    factory = None if embedder is None else (lambda _name: embedder)
    return Runtime(
        Settings(home=home, default_embedding="local"),
        llm=ScriptedLLM(),
        embedder_factory=factory,  # type: ignore[arg-type]
        background_indexing=False,
    )


# -- retrieval on LoCoMo --------------------------------------------------------------------


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


# -- a world that changes -------------------------------------------------------------------

FIRST = [
    "Ada", "Bo", "Cleo", "Dev", "Eli", "Fay", "Gus", "Hana", "Ivo", "Jun", "Kai", "Lea", "Milo",
    "Nia", "Oto", "Pia", "Quin", "Rae", "Sol", "Tam", "Uma", "Vic", "Wren", "Xia", "Yan", "Zoe",
    "Abel", "Bea", "Cyra", "Dana", "Emil", "Flor", "Gil", "Hugo", "Iris", "Joel", "Kira", "Lars",
    "Mara", "Nils", "Olga", "Pedro", "Rosa", "Sami", "Tess", "Ugo", "Vera", "Wim", "Yara", "Zeno",
    "Arlo", "Bruna", "Cato", "Dora", "Enzo", "Fern", "Greta", "Hal", "Ines", "Jasper", "Kofi",
    "Lena", "Matteo", "Noor", "Oren", "Petra", "Rafa", "Sana", "Theo", "Una", "Vito", "Wanda",
    "Ximena", "Yusuf", "Zara", "Amir", "Bianca", "Carlos", "Daria", "Erik", "Fatima", "Goran",
    "Helga", "Ibrahim", "Jana", "Kenji", "Lucia", "Mehmet", "Nadia", "Oskar", "Priya", "Ravi",
    "Sofia", "Tomas", "Ulla", "Viktor", "Yoko"
]  # fmt: skip
LAST = [
    "Moreau", "Chen", "Silva", "Okafor", "Novak", "Haddad", "Larsen", "Ito", "Rossi", "Kowalski",
    "Mendes", "Fischer", "Nakamura", "Duarte", "Jensen", "Petrov", "Alvarez", "Byrne", "Castro",
    "Dubois", "Eriksen", "Ferreira", "Garcia", "Horvat", "Ibsen", "Jovanovic", "Kaur", "Lindqvist",
    "Marino", "Nilsen", "Oliveira", "Park", "Quintero", "Reyes", "Sato", "Takahashi", "Ueda",
    "Varga", "Weber", "Yilmaz", "Zhang", "Abbott", "Bianchi", "Costa", "Dahl", "Esposito",
    "Fontaine", "Gomez", "Hansen", "Ivanova", "Jaramillo", "Keller", "Lopez", "Muller", "Nguyen",
    "Ortiz", "Popescu", "Quinn", "Romano", "Schmidt", "Tanaka", "Urban", "Vogel", "Walsh", "Young",
    "Zeller", "Anand", "Brandt", "Conti", "Diaz", "Engel", "Foster", "Gupta", "Hoffmann",
    "Ionescu", "Jung", "Kim", "Lambert", "Meyer", "Nowak", "Otto", "Pham", "Ramos", "Santos",
    "Torres", "Vidal", "Wagner", "Xu", "Yamada", "Zimmermann", "Barros", "Cruz", "Falk", "Mori",
    "Rahman", "Sousa"
]  # fmt: skip
CITIES = """Porto|Lisbon|Madrid|Barcelona|Paris|Lyon|Berlin|Munich|Hamburg|Vienna|Zurich|Milan|
Rome|Naples|Amsterdam|Rotterdam|Brussels|London|Manchester|Dublin|Edinburgh|Oslo|Stockholm|
Copenhagen|Helsinki|Warsaw|Krakow|Prague|Budapest|Athens|Istanbul|Cairo|Nairobi|Lagos|Toronto|
Montreal|Boston|Chicago|Denver|Seattle|Austin|Mexico City|Bogota|Lima|Santiago|Buenos Aires|
Sao Paulo|Tokyo|Osaka|Seoul|Taipei|Singapore|Sydney|Melbourne|Auckland|Mumbai|Bangalore""".replace(
    "\n", ""
).split("|")
EMPLOYERS = """Acme|Globex|Initech|Umbrella|Stark Industries|Wayne Enterprises|Hooli|Pied Piper|
Soylent|Tyrell|Cyberdyne|Wonka Industries|Aperture Science|Black Mesa|Vandelay Industries|
Dunder Mifflin|Monarch Solutions|Gringotts|Oscorp|Massive Dynamic|Nakatomi Trading|
Virtucon|Blue Sun|Weyland-Yutani|Sirius Cybernetics|Prestige Worldwide|Bluth Company|
Sterling Cooper|Los Pollos Hermanos|Kwik-E-Mart|Buy n Large|Spacely Sprockets|Cogswell Cogs|
the city council|the university hospital|a local bakery|a law firm|a design studio|a school|
the public library""".replace("\n", "").split("|")
LADDERS = [
    ["junior software engineer", "software engineer", "senior software engineer",
     "staff software engineer", "engineering manager", "director of engineering"],
    ["junior data analyst", "data analyst", "senior data analyst", "data scientist",
     "head of data"],
    ["sales associate", "account executive", "senior account executive", "sales manager",
     "regional sales director"],
    ["staff nurse", "senior nurse", "charge nurse", "nurse manager"],
    ["teaching assistant", "teacher", "head of department", "deputy head teacher",
     "head teacher"],
    ["junior designer", "graphic designer", "senior designer", "art director"],
    ["line cook", "sous chef", "head chef", "restaurant owner"],
    ["paralegal", "associate lawyer", "senior associate", "partner at the firm"],
]  # fmt: skip
LIKES = """sushi|ramen|Italian food|Thai food|Mexican food|Indian food|jazz|classical music|
hip hop|techno|folk music|opera|hiking|cycling|running|swimming|climbing|yoga|chess|board games|
video games|crosswords|gardening|baking|pottery|painting|photography|knitting|birdwatching|
science fiction|detective novels|poetry|horror films|documentaries|anime|football|basketball|
tennis|sailing|skiing|surfing|camping|red wine|craft beer|green tea|espresso|dark chocolate|
cheesecake""".replace("\n", "").split("|")
PETS = """a dog named Rex|a dog named Max|a dog named Luna|a cat named Milo|a cat named Tom|
a cat named Nala|a parrot named Kiwi|a rabbit named Clover|a hamster named Peanut|
a tortoise named Sheldon|a goldfish named Bubbles|a horse named Storm|a ferret named Ziggy|
a golden retriever|a tabby cat|a border collie|a pair of budgies|two guinea pigs""".replace(
    "\n", ""
).split("|")
SINGLE = {"lives_in": CITIES, "employer": EMPLOYERS, "job_title": []}
MANY = {"likes": LIKES, "pet": PETS}
ASKED = {
    "lives_in": "Where does {} live?",
    "employer": "Who does {} work for?",
    "job_title": "What is {}'s job?",
    "likes": "What does {} like?",
    "pet": "What pets does {} have?",
}
DAY0 = datetime(2012, 1, 1, tzinfo=UTC)
LAST_DAY = datetime(2025, 6, 30, tzinfo=UTC)
DAYS = (LAST_DAY - DAY0).days
LATE_SHARE = 0.2  # of events reach memory one to four years after they happened
NEGATED_SHARE = 0.3  # of many-valued values are later negated


@dataclass(frozen=True)
class Event:
    subject: str
    attribute: str
    value: str
    at: datetime
    negates: bool = False

    def fact(self) -> FactInput:
        many = self.attribute in MANY
        return FactInput(
            subject=self.subject,
            attribute=self.attribute,
            value=self.value,
            valid_at=self.at,
            cardinality="many" if many else "single",
            negates=self.negates,
        )


def world(rng: random.Random, subjects: int) -> list[Event]:
    """What happened to each person, in no particular order."""
    names = rng.sample([f"{f} {last}" for f in FIRST for last in LAST], subjects)
    events: list[Event] = []
    for name in names:
        for attribute, pool in SINGLE.items():
            days = sorted(rng.sample(range(DAYS), rng.randint(2, 6)))
            values = _career(rng, len(days)) if attribute == "job_title" else []
            current = ""
            for i, day in enumerate(days):
                current = values[i] if values else rng.choice([v for v in pool if v != current])
                events.append(Event(name, attribute, current, DAY0 + timedelta(days=day)))
        for attribute, pool in MANY.items():
            for value in rng.sample(pool, rng.randint(1, 4 if attribute == "pet" else 5)):
                day = rng.randrange(DAYS - 30)
                events.append(Event(name, attribute, value, DAY0 + timedelta(days=day)))
                if rng.random() < NEGATED_SHARE:
                    gone = rng.randrange(day + 1, DAYS)
                    events.append(Event(name, attribute, value, DAY0 + timedelta(days=gone), True))
    return events


def _career(rng: random.Random, steps: int) -> list[str]:
    """Job titles: mostly promotions up a ladder, sometimes a change of field."""
    ladder = rng.choice(LADDERS)
    rank = rng.randrange(len(ladder) - 1)
    out = [ladder[rank]]
    while len(out) < steps:
        if rank + 1 < len(ladder) and rng.random() < 0.7:
            rank += 1
        else:
            ladder = rng.choice([x for x in LADDERS if x is not ladder])
            rank = rng.randrange(len(ladder) - 1)
        out.append(ladder[rank])
    return out


def arrival(rng: random.Random, events: list[Event]) -> tuple[list[Event], int]:
    """The order memory hears of the events: by time, a share of them years late; and how many
    arrive after a later event of their own slot."""
    late = {
        i: timedelta(days=rng.randint(365, 4 * 365))
        for i in range(len(events))
        if rng.random() < LATE_SHARE
    }
    order = sorted(range(len(events)), key=lambda i: events[i].at + late.get(i, timedelta()))
    newest: dict[tuple[str, str], datetime] = {}
    inverted = 0
    for i in order:
        event = events[i]
        key = (event.subject, event.attribute)
        if key in newest and newest[key] > event.at:
            inverted += 1
        newest[key] = max(newest.get(key, event.at), event.at)
    return [events[i] for i in order], inverted


def holding(slot_events: list[Event], at: datetime) -> str | None:
    """The true value of a single-valued slot at `at`."""
    past = [e for e in slot_events if e.at <= at]
    return max(past, key=lambda e: e.at).value if past else None


def values_now(slot_events: list[Event]) -> set[str]:
    """The true values of one many-valued slot now."""
    out: set[str] = set()
    for event in sorted(slot_events, key=lambda e: (e.at, e.negates)):
        if event.negates:
            out.discard(event.value)
        else:
            out.add(event.value)
    return out


@dataclass
class Tally:
    """What the knowledge-update questions found, and every wrong answer with its cause."""

    current: int = 0
    as_of: int = 0
    asked_current: int = 0
    asked_as_of: int = 0
    stale: int = 0
    retired: int = 0
    kept: int = 0
    lists: int = 0

    def __post_init__(self) -> None:
        self.wrong: dict[str, list[dict]] = defaultdict(list)


def updates(subjects: int, seed: int) -> dict:
    rng = random.Random(seed)
    events = world(rng, subjects)
    heard, inverted = arrival(rng, events)
    by_slot: dict[tuple[str, str], list[Event]] = defaultdict(list)
    for event in heard:  # in the order memory heard them
        by_slot[(event.subject, event.attribute)].append(event)
    tally = Tally()
    outcome: Counter[str] = Counter()
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as home:
        runtime = runtime_in(Path(home))
        for offset in range(0, len(heard), 100):
            result = runtime.facts.write(TENANT, [e.fact() for e in heard[offset : offset + 100]])
            outcome.update(
                added=len(result.added),
                merged=len(result.merged),
                superseded=len(result.superseded),
                negated=len(result.negated),
                unchanged=len(result.unchanged),
            )
        loaded = time.perf_counter() - started
        for (subject, attribute), slot_events in by_slot.items():
            if attribute in SINGLE:
                ask_single(runtime, rng, subject, attribute, slot_events, tally)
            else:
                ask_many(runtime, subject, attribute, slot_events, tally)
        runtime.close()
    causes = {name: dict(Counter(c["cause"] for c in cases)) for name, cases in tally.wrong.items()}
    return {
        "subjects": subjects,
        "seed": seed,
        "near": rules.NEAR,
        "facts_written": len(heard),
        "arrived_after_a_later_value_of_their_slot": inverted,
        "negations": sum(e.negates for e in events),
        "outcomes": dict(outcome),
        "load_seconds": round(loaded, 1),
        "current_accuracy@1": round(tally.current / tally.asked_current, 4),
        "as_of_accuracy@1": round(tally.as_of / tally.asked_as_of, 4),
        "stale_in_top5": tally.stale,
        "many_valued_wrongly_retired": tally.retired,
        "many_valued_wrongly_kept": tally.kept,
        "questions": {
            "current": tally.asked_current,
            "as_of": tally.asked_as_of,
            "lists": tally.lists,
        },
        "causes": causes,
        "wrong": {name: cases[:100] for name, cases in tally.wrong.items()},
    }


def ask_single(
    runtime: Runtime,
    rng: random.Random,
    subject: str,
    attribute: str,
    slot_events: list[Event],
    tally: Tally,
) -> None:
    """Its value now and at two dates after it was first known, searched as a client would."""
    only = {"subject": subject, "attribute": attribute}
    question = ASKED[attribute].format(subject)
    first = min(e.at for e in slot_events)
    dates = [None] + [
        first + timedelta(days=rng.randrange((LAST_DAY - first).days)) for _ in range(2)
    ]
    for when in dates:
        truth = holding(slot_events, when or datetime.now(UTC))
        hits = runtime.facts.search(TENANT, question, filters=only, as_of=when, limit=5)
        got = [h.fact.value for h in hits]
        tally.stale += sum(slots.value_key(v) != slots.value_key(truth or "") for v in got)
        right = bool(got) and slots.value_key(got[0]) == slots.value_key(truth or "")
        if when is None:
            tally.asked_current += 1
            tally.current += right
        else:
            tally.asked_as_of += 1
            tally.as_of += right
        if not right:
            rows = runtime.facts.list_(TENANT, filters=only, include_history=True, limit=100)
            tally.wrong["current" if when is None else "as_of"].append(
                {
                    **_case(subject, attribute, truth, got, slot_events, rows),
                    "as_of": None if when is None else when.date().isoformat(),
                    "cause": _single_cause(rows, slot_events),
                }
            )


def _single_cause(rows: Sequence[Fact], slot_events: list[Event]) -> str:
    """Rows of a value holding more statements than that value was heard took in other values
    (merged as near duplicates); otherwise the rules placed the values wrongly in time."""
    heard = Counter(slots.value_key(e.value) for e in slot_events)
    kept: Counter[str] = Counter()
    for row in rows:
        kept[row.value_key] += row.evidence_count
    if any(count > heard[key] for key, count in kept.items()):
        return "another value merged into a row as a near duplicate"
    return "the timeline was built wrong"


def ask_many(
    runtime: Runtime, subject: str, attribute: str, slot_events: list[Event], tally: Tally
) -> None:
    """Every value it holds now, listed with filters."""
    only = {"subject": subject, "attribute": attribute}
    tally.lists += 1
    listed = {f.value for f in runtime.facts.list_(TENANT, filters=only, limit=100)}
    truth = values_now(slot_events)
    missing, extra = truth - listed, listed - truth
    tally.retired += len(missing)
    tally.kept += len(extra)
    if not (missing or extra):
        return
    rows = runtime.facts.list_(TENANT, filters=only, include_history=True, limit=100)
    kept_values = {r.value for r in rows}
    for value in sorted(missing):
        cause = "negated" if value in kept_values else "merged as a near duplicate"
        tally.wrong["many_retired"].append(
            {**_case(subject, attribute, value, sorted(listed), slot_events, rows), "cause": cause}
        )
    for value in sorted(extra):
        order = [e.negates for e in slot_events if e.value == value]
        cause = (
            "its negation arrived before it" if order[:1] == [True] else "a negation did not apply"
        )
        tally.wrong["many_kept"].append(
            {**_case(subject, attribute, value, sorted(listed), slot_events, rows), "cause": cause}
        )


def _case(
    subject: str,
    attribute: str,
    truth: object,
    got: object,
    slot_events: list[Event],
    rows: Sequence[Fact],
) -> dict:
    """A wrong answer: what was asked, what came back, what memory heard in what order, and
    the rows it kept (value, from, to, why retired)."""
    return {
        "subject": subject,
        "attribute": attribute,
        "truth": truth,
        "got": got,
        "heard": [f"{'not ' if e.negates else ''}{e.value} @ {e.at.date()}" for e in slot_events],
        "rows": [
            f"{r.value} [{r.valid_at.date()}, {r.invalid_at.date() if r.invalid_at else ''}) "
            f"{r.retired or 'current'} x{r.evidence_count}"
            for r in sorted(rows, key=lambda r: r.valid_at)
        ],
    }


def print_updates(out: dict) -> None:
    for key, value in out.items():
        if key != "wrong":
            print(f"{key}: {value}")
    for name, cases in out["wrong"].items():
        for case in cases[:3]:
            print(f"  {name}: {json.dumps(case)}")


# -- speed ----------------------------------------------------------------------------------


class KeptVectors:
    """The local embedder, answering from memory for the texts it was told to keep: a search
    then costs what it costs without its query's embedding."""

    name = "local"
    dimension = 384

    def __init__(self, model: MiniLMEmbedder) -> None:
        self.model = model
        self.kept: dict[str, np.ndarray] = {}

    def embed(self, texts: list[str]) -> np.ndarray:
        if len(texts) == 1 and texts[0] in self.kept:
            return self.kept[texts[0]][None, :]
        return self.model.embed(texts)

    def keep(self, texts: list[str]) -> None:
        self.kept.update(zip(texts, self.model.embed(texts), strict=True))


def ms(values: list[float], q: float) -> float:
    return round(float(np.percentile(values, q)) * 1000, 2)


def latency(runtime: Runtime, embedder: KeptVectors, asks: list[tuple[str, dict | None]]) -> dict:
    """Search p50/p95 with the query embedded in the search and with its vector kept (the
    search alone), each query both ways in alternating order so both see the same machine;
    and the embedding alone."""
    facts = runtime.facts
    for question, only in asks[:20]:  # warm: the first query loads the HNSW index
        facts.search(TENANT, question, filters=only, limit=10)
    timings: dict[str, list[float]] = {"total": [], "kept": [], "embedding": []}
    for i, (question, only) in enumerate(asks):
        for way in ("kept", "total") if i % 2 else ("total", "kept"):
            embedder.kept.clear()
            if way == "kept":
                embedder.keep([question])
            t = time.perf_counter()
            facts.search(TENANT, question, filters=only, limit=10)
            timings[way].append(time.perf_counter() - t)
        t = time.perf_counter()
        embedder.model.embed([question])
        timings["embedding"].append(time.perf_counter() - t)
    return {
        "queries": len(asks),
        "p50_ms": ms(timings["total"], 50),
        "p95_ms": ms(timings["total"], 95),
        "without_embedding_p50_ms": ms(timings["kept"], 50),
        "without_embedding_p95_ms": ms(timings["kept"], 95),
        "embedding_p50_ms": ms(timings["embedding"], 50),
    }


def parts(runtime: Runtime, embedder: KeptVectors, picks: list[tuple[str, str]]) -> dict:
    """What a search's vector side costs: the index asked for 400 (what a search of 10 asks:
    100 candidates, 4 times over) or 100 vectors, with and without the subject and attribute
    filter, against reading that slot's stored vectors from SQL and scoring them here."""
    facts = runtime.facts
    space = Space.of(embedder, TENANT, "fact")
    timings: dict[str, list[float]] = defaultdict(list)
    for subject, attribute in picks:
        question = ASKED[attribute].format(subject)
        embedder.keep([question])
        vector = embedder.embed([question])[0]
        only = {"subject": subject, "attribute": attribute}
        compiled = filters_.compile_filters(only)
        for name, k, where in (
            ("index_400", 400, None),
            ("index_100", 100, None),
            ("index_400_slot_filter", 400, VectorFilter(fields=tuple(compiled.vectors.items()))),
        ):
            t = time.perf_counter()
            facts.index.query(space, vector, k, where)
            timings[name].append(time.perf_counter() - t)
        t = time.perf_counter()
        with Session(runtime.engine) as session:
            rows = session.exec(
                select(Fact.id, Fact.vector).where(Fact.tenant_id == TENANT, *compiled.sql)
            ).all()
        sorted(rows, key=lambda r: -float(np.frombuffer(r[1], dtype=np.float32) @ vector))
        timings["sql_slot_vectors_scored"].append(time.perf_counter() - t)
    return {f"{name}_p50_ms": ms(values, 50) for name, values in timings.items()}


def speed(sizes: list[int], seed: int, queries: int, data: Path) -> dict:
    rng = random.Random(seed)
    biggest = max(sizes)
    events = world(rng, min(len(FIRST) * len(LAST), biggest // 10))
    heard, _ = arrival(rng, events)
    heard = [e for e in heard if not e.negates]
    names = sorted({e.subject for e in heard})
    embedder = KeptVectors(MiniLMEmbedder())
    embedder.model.embed(["warm up"])
    out: dict = {"machine": machine(), "python": platform.python_version(), "sizes": []}
    with tempfile.TemporaryDirectory() as home:
        runtime = runtime_in(Path(home), embedder)  # type: ignore[arg-type]
        facts = runtime.facts
        loaded = 0  # world facts written so far
        seconds = 0.0

        def fill(target: int) -> None:
            """Write world facts, 1,000 a write, until the store keeps `target` of them."""
            nonlocal loaded, seconds
            t = time.perf_counter()
            while (have := facts.counts(TENANT)["facts"]) < target:
                batch = heard[loaded : loaded + min(1000, target - have)]
                if not batch:
                    raise SystemExit(f"the world ran out of facts at {have}")
                facts.write(TENANT, [e.fact() for e in batch])
                loaded += len(batch)
            seconds += time.perf_counter() - t

        for size in sorted(sizes):
            fill(size - WRITE_SPEED_FACTS)
            row: dict = {"facts": size, "writes": write_speed(runtime, rng, names, data)}
            fill(size)
            row["world_facts_written"] = loaded
            row["load_seconds"] = round(seconds, 1)
            row["load_per_s"] = round(loaded / seconds)
            picks = [(rng.choice(names), rng.choice(list(ASKED))) for _ in range(queries)]
            row["search"] = latency(
                runtime, embedder, [(ASKED[a].format(s), None) for s, a in picks]
            )
            row["slot_search"] = latency(
                runtime,
                embedder,
                [(ASKED[a].format(s), {"subject": s, "attribute": a}) for s, a in picks],
            )
            row["vector_side"] = parts(runtime, embedder, picks[:50])
            out["sizes"].append(row)
            print("size", row)
        runtime.close()
    return out


WRITE_SPEED_FACTS = 1_600  # what `write_speed` adds to the store


def write_speed(runtime: Runtime, rng: random.Random, names: list[str], data: Path) -> dict:
    """Writes per second in a store of the size loaded: slot facts one at a time and 100 a
    write, and free statements (which look up their near neighbours) 100 a write."""
    facts = runtime.facts
    when = DAY0 + timedelta(days=DAYS)

    def slot_fact(i: int) -> FactInput:
        return FactInput(
            subject=rng.choice(names), attribute="likes", value=f"{rng.choice(LIKES)} #{i}",
            valid_at=when, cardinality="many",
        )  # fmt: skip

    singles = []
    for i in range(100):
        fact = slot_fact(i)
        t = time.perf_counter()
        facts.write(TENANT, [fact])
        singles.append(time.perf_counter() - t)
    batches, free = [], []
    for b in range(10):
        batch = [slot_fact(1000 + b * 100 + i) for i in range(100)]
        t = time.perf_counter()
        facts.write(TENANT, batch)
        batches.append(time.perf_counter() - t)
    statements = [o for sample in json.loads(data.read_text()) for o in observations(sample)]
    start = rng.randrange(len(statements) - 500)  # no two sizes write the same statements
    for b in range(5):
        batch = statements[start + b * 100 : start + b * 100 + 100]
        t = time.perf_counter()
        facts.write(TENANT, batch)
        free.append(time.perf_counter() - t)
    return {
        "single_per_s": round(1 / statistics.median(singles)),
        "single_p50_ms": ms(singles, 50),
        "batch100_per_s": round(100 / statistics.median(batches)),
        "free_batch100_per_s": round(100 / statistics.median(free)),
    }


# -- the near-duplicate threshold -----------------------------------------------------------

# One fact said two ways: a near threshold should merge these.
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--updates", action="store_true", help="knowledge updates")
    mode.add_argument("--speed", action="store_true", help="writes and search latency")
    mode.add_argument("--near", action="store_true", help="the near-duplicate threshold")
    parser.add_argument("--data", type=Path, default=locomo.DEFAULT_DATA)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--sweep", action="store_true", help="LoCoMo: other fusions as well")
    parser.add_argument("--subjects", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--facts", type=int, nargs="*", default=[10_000, 100_000])
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument(
        "--near-threshold",
        type=float,
        help="--updates: run with rules.NEAR set to this (above 1: no near merges), to tell the "
        "threshold's errors from the rules' own",
    )
    args = parser.parse_args()
    if not args.data.exists() and not args.updates:
        raise SystemExit(f"no data at {args.data}; pass --data PATH")
    if args.near_threshold is not None:
        rules.NEAR = args.near_threshold  # read at each comparison (facts/store.py)
    if args.updates:
        out = updates(args.subjects, args.seed)
        print_updates(out)
    elif args.speed:
        out = speed(args.facts, args.seed, args.queries, args.data)
    elif args.near:
        out = near(args.subjects, args.seed, args.data)
        print_near(out)
    else:
        out = retrieval(args.data, args.sweep)
        print_retrieval(out)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(out, indent=2, default=str))


if __name__ == "__main__":
    main()
