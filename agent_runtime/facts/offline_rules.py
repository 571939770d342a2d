"""Facts from what a user says about themselves, by rules: the `offline` extraction model, so
automatic memory works with no key. It reads first-person statements only: names, where one
lives or moved to, work, likes and dislikes (and "no longer"), allergies, birthdays, family
and pets, with the date a sentence names ("in March 2023", "since 2021", "yesterday").

It is no language model: it misses what is said any other way, and says so by finding nothing.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime

from agent_runtime.core.specs import FactInput
from agent_runtime.retrieval import time_hints

SUBJECT = "user"  # the person talking to the agent, as the model extractor is told too
SENTENCE = re.compile(r"(?<=[.!?;])\s+|\n+")
# A value ends before a clause that is not part of it.
TAIL = re.compile(
    r"\s+(?:and|but|because|since|from|in|on|at|for|these days|now|anymore|any more|"
    r"last|this|next|ago|yesterday|today|when|where|which|who|so)\b.*$|[,.!?;:].*$",
    re.IGNORECASE,
)
NAME = r"([A-Z][\w'-]+(?: [A-Z][\w'-]+){0,2})"
PLACE = r"([A-Z][\w'.-]*(?: [A-Z][\w'.-]*){0,3})"
THING = r"([\w'&+, -]{2,80})"
FAMILY = (
    "wife|husband|partner|spouse|sister|brother|mother|mom|mum|father|dad|son|daughter|"
    "grandmother|grandma|grandfather|grandpa|aunt|uncle|cousin|niece|nephew|girlfriend|boyfriend"
)
SINGLE_FAMILY = {
    "wife",
    "husband",
    "partner",
    "spouse",
    "girlfriend",
    "boyfriend",
    "mother",
    "mom",
    "mum",
    "father",
    "dad",
}
PETS = "dog|cat|puppy|kitten|parrot|rabbit|hamster|horse|fish|turtle|snake|bird|guinea pig"

Make = Callable[[re.Match[str]], list[FactInput]]
Rule = tuple[re.Pattern[str], Make]
LIST = re.compile(r",\s*(?:and\s+|or\s+)?|\s+(?:and|or)\s+", re.IGNORECASE)
UNDATED = {"name", "birthday"}  # a date in their sentence is not when they became true


def _clean(value: str) -> str:
    return TAIL.sub("", value.strip()).strip(" '\"")


def _slot(
    attribute: str,
    kind: str = "fact",
    cardinality: str | None = None,
    negates: bool = False,
) -> Make:
    """Facts of one slot; a many-valued one reads a list ("sushi, ramen and tea") as values."""

    def make(match: re.Match[str]) -> list[FactInput]:
        raw = match.group(1)
        if cardinality == "many":
            raw = re.split(r"[.!?;:]", raw)[0]
            values = [_clean(v) for v in LIST.split(raw)]
        else:
            values = [_clean(raw)]
        return [
            FactInput(
                subject=SUBJECT,
                attribute=attribute,
                value=value,
                kind=kind,
                cardinality=cardinality,
                negates=negates,
            )
            for value in values
            if value and value.lower() not in {"it", "that", "this", "them", "you"}
        ]

    return make


def _family(match: re.Match[str]) -> list[FactInput]:
    relation = match.group(1).lower()
    name = _clean(match.group(2))
    if not name:
        return []
    single = relation in SINGLE_FAMILY
    return [
        FactInput(
            subject=SUBJECT,
            attribute=relation,
            value=name,
            kind="relationship",
            cardinality="single" if single else "many",
        )
    ]


def _pet(match: re.Match[str]) -> list[FactInput]:
    name = _clean(match.group(2))
    if not name:
        return []
    return [
        FactInput(
            subject=SUBJECT,
            attribute="pet",
            value=f"{name} ({match.group(1).lower()})",
            kind="relationship",
            cardinality="many",
        )
    ]


def _i(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern, re.IGNORECASE)


RULES: list[Rule] = [
    (
        re.compile(r"\b(?:[Mm]y name is|[Cc]all me|I'm called|I am called) " + NAME),
        _slot("name", cardinality="single"),
    ),
    (
        _i(r"\bI (?:no longer|don't|do not) (?:like|love|enjoy) " + THING),
        _slot("likes", "preference", "many", negates=True),
    ),
    (
        re.compile(r"\bI (?:just |recently |have |'ve )?(?:moved|relocated) to " + PLACE),
        _slot("lives_in", cardinality="single"),
    ),
    (
        re.compile(r"\bI (?:now |currently |still )?live in " + PLACE),
        _slot("lives_in", cardinality="single"),
    ),
    (
        re.compile(r"\bI(?:'m| am) (?:now )?based in " + PLACE),
        _slot("lives_in", cardinality="single"),
    ),
    (
        re.compile(r"\bI (?:now |currently )?work (?:at|for) " + PLACE),
        _slot("employer", cardinality="single"),
    ),
    (
        _i(r"\bI (?:now |currently )?work as (?:an? )?" + THING),
        _slot("job_title", cardinality="single"),
    ),
    (_i(r"\bI(?:'m| am) allergic to " + THING), _slot("allergy", "fact", "many")),
    (_i(r"\bmy birthday is (?:on )?([\w ]{3,30})"), _slot("birthday", cardinality="single")),
    (
        _i(r"\bI (?:really |absolutely )?(?:like|love|enjoy|adore|prefer) " + THING),
        _slot("likes", "preference", "many"),
    ),
    (
        _i(r"\bI (?:really )?(?:hate|dislike|can't stand|cannot stand|detest) " + THING),
        _slot("dislikes", "preference", "many"),
    ),
    (
        re.compile(r"\b[Mm]y (" + FAMILY + r")(?:'s name is| is called| is named| is|,) " + NAME),
        _family,
    ),
    (re.compile(r"\bI have an? (" + PETS + r") (?:called|named) " + NAME), _pet),
    (re.compile(r"\b[Mm]y (" + PETS + r")(?:'s name is| is called| is named|,) " + NAME), _pet),
]


def extract(text: str, now: datetime) -> list[FactInput]:
    """The facts a user message states, each dated by the time its sentence names (or not)."""
    out: list[FactInput] = []
    for sentence in SENTENCE.split(text):
        taken: set[str] = set()
        named = time_hints.window(sentence, now)
        start = None if named is None else named.start
        for pattern, make in RULES:
            match = pattern.search(sentence)
            if match is None:
                continue
            for fact in make(match):
                if fact.attribute in taken and fact.cardinality != "many":
                    continue
                taken.add(fact.attribute)
                if start is not None and start <= now and fact.attribute not in UNDATED:
                    fact = replace(fact, valid_at=start)
                out.append(fact)
    return out
