"""How a fact is keyed: its subject, attribute and value normalised, its statement, the number
of values its attribute holds, and the checks on a fact's fields."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta

from agent_runtime.core import limits
from agent_runtime.core.errors import InvalidInput, LimitExceeded
from agent_runtime.core.specs import FactInput
from agent_runtime.core.vocabulary import Cardinality, FactKind
from agent_runtime.core.words import STOP_WORDS

SPACES = re.compile(r"\s+")
ANCHOR = re.compile(r"[\w'-]+")
NOT_WORD = re.compile(r"[^0-9a-z]+")
EDGE_PUNCTUATION = " \t\n.,;:!?\"'()[]"
ARTICLES = ("the ", "a ", "an ")

# Attributes that hold one value at a time unless a write says otherwise; the rest accumulate.
SINGLE_VALUED = frozenset(
    {
        "age",
        "birthday",
        "born_in",
        "email",
        "employer",
        "full_name",
        "hometown",
        "job_title",
        "lives_in",
        "marital_status",
        "name",
        "nationality",
        "occupation",
        "partner",
        "phone",
        "relationship_status",
        "spouse",
        "timezone",
        "works_as",
        "works_at",
    }
)


def subject_key(subject: str) -> str:
    return SPACES.sub(" ", subject.strip(EDGE_PUNCTUATION).casefold())


def attribute_key(attribute: str) -> str:
    """`Lives In`, `lives-in` and `lives_in` are one slot."""
    return NOT_WORD.sub("_", attribute.casefold()).strip("_")


def value_key(value: str) -> str:
    """A value as compared: case, spacing, edge punctuation and a leading article aside."""
    key = SPACES.sub(" ", value.strip(EDGE_PUNCTUATION).casefold())
    for article in ARTICLES:
        if key.startswith(article):
            return key[len(article) :]
    return key


def anchors(text: str) -> frozenset[str]:
    """The words a statement cannot lose and stay itself: names (capitalised), numbers, and
    one-letter labels. Two statements close in meaning but with other anchors ("Ada owns book
    A" and "... book B", "lives in Porto" and "... Lisbon") are two facts, not one said twice."""
    return frozenset(
        word.casefold()
        for word in ANCHOR.findall(text)
        if (word[0].isupper() or any(c.isdigit() for c in word) or len(word) == 1)
        and word.casefold() not in STOP_WORDS
    )


def cardinality_of(attribute: str, given: str | None) -> Cardinality:
    if given is not None:
        try:
            return Cardinality(given)
        except ValueError:
            raise InvalidInput("cardinality must be single or many", field="cardinality") from None
    return Cardinality.SINGLE if attribute in SINGLE_VALUED else Cardinality.MANY


# How a slot reads in a statement, where its name alone would not ("Ada allergy peanuts").
VERBS = {
    "allergy": "is allergic to",
    "birthday": "was born on",
    "born_in": "was born in",
    "dislikes": "dislikes",
    "email": "has the email",
    "employer": "works at",
    "hometown": "comes from",
    "job_title": "works as",
    "name": "is called",
    "nationality": "is",
    "occupation": "works as",
    "partner": "has the partner",
    "pet": "has the pet",
    "phone": "has the phone number",
    "spouse": "is married to",
    "works_as": "works as",
    "works_at": "works at",
}


def statement(subject: str, attribute: str, value: str, negates: bool = False) -> str:
    """The text of a slot's fact: "Ada lives in Porto"."""
    verb = VERBS.get(attribute, attribute.replace("_", " "))
    if negates:
        verb = f"no longer {verb}"
    return " ".join(part for part in (subject.strip(), verb, value.strip()) if part)


def kind_of(kind: str) -> FactKind:
    try:
        return FactKind(kind)
    except ValueError:
        names = ", ".join(k.value for k in FactKind)
        raise InvalidInput(f"kind must be one of {names}", field="kind") from None


def aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def check(fact: FactInput) -> None:
    """Refuse a fact that is incomplete or over a limit, naming the field."""
    if not (fact.text.strip() or (fact.subject.strip() and fact.attribute.strip())):
        raise InvalidInput("a fact needs text, or a subject and an attribute", field="text")
    if fact.attribute.strip() and not attribute_key(fact.attribute):
        raise InvalidInput("attribute needs a letter or a digit", field="attribute")
    if fact.attribute.strip() and not (fact.value.strip() or fact.negates):
        raise InvalidInput("a fact with an attribute needs a value", field="value")
    _limit("text", fact.text, limits.MAX_FACT_CHARS)
    _limit("subject", fact.subject, limits.MAX_FACT_FIELD_CHARS)
    _limit("attribute", fact.attribute, limits.MAX_FACT_FIELD_CHARS)
    _limit("value", fact.value, limits.MAX_FACT_VALUE_CHARS)
    kind_of(fact.kind)
    cardinality_of("", fact.cardinality)
    if len(fact.evidence) > limits.MAX_EVIDENCE:
        raise LimitExceeded(
            f"at most {limits.MAX_EVIDENCE} evidence entries per fact", field="evidence"
        )
    for item in fact.evidence:
        _limit("evidence", item, limits.MAX_EVIDENCE_CHARS)
    check_metadata(fact.metadata)
    if fact.ttl_days is not None and not 0 < fact.ttl_days <= limits.MAX_TTL_DAYS:
        raise InvalidInput(f"ttl_days must be above 0 and at most {limits.MAX_TTL_DAYS}")
    if fact.ttl_days is not None and fact.expires_at is not None:
        raise InvalidInput("give ttl_days or expires_at, not both", field="ttl_days")


def check_metadata(metadata: dict[str, object]) -> None:
    if not isinstance(metadata, dict):
        raise InvalidInput("metadata must be an object", field="metadata")
    if len(metadata) > limits.MAX_METADATA_KEYS:
        raise LimitExceeded(
            f"metadata holds at most {limits.MAX_METADATA_KEYS} keys", field="metadata"
        )
    if len(json.dumps(metadata, default=str)) > limits.MAX_METADATA_CHARS:
        raise LimitExceeded(
            f"metadata is at most {limits.MAX_METADATA_CHARS} characters as JSON",
            field="metadata",
        )
    for key, value in metadata.items():
        if not isinstance(value, str | int | float | bool) and value is not None:
            raise InvalidInput(
                f"metadata values are strings, numbers, booleans or null; {key!r} is not",
                field=f"metadata.{key}",
            )


def expires_at(
    fact: FactInput, kind: FactKind, now: datetime, lifetimes: dict[str, float | None]
) -> datetime | None:
    """When a fact expires: as the write says, else its kind's lifetime (`lifetimes`, days;
    None or absent: never), counted from now: history imported today is kept its full time."""
    if fact.expires_at is not None:
        return aware(fact.expires_at)
    days = fact.ttl_days if fact.ttl_days is not None else lifetimes.get(kind.value)
    if days is None:
        return None
    return now + timedelta(days=days)


def _limit(name: str, text: str, most: int) -> None:
    if len(text) > most:
        raise LimitExceeded(f"{name} is at most {most} characters", field=name)
