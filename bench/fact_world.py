"""A seeded world that changes: people whose attributes change over the years, the order
memory hears of it, and what is true in it (bench/facts.py --updates, --speed, --near)."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from agent_runtime.core.specs import FactInput

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
