"""The time a query names ("on 9 October, 2022", "in March 2023", "before June 5", "yesterday"),
as a window that search favours.

A memory is stamped with when it was said, and people tell of events after they happen ("last
week I went..."), so a window reaches a little past the period it names. Words before the date
turn it into a bound: "before" ends the window where the period starts, "by", "as of" and
"until" where it ends; "after" and "since" start it there; "between A and B" spans both. A month
or a year alone counts only after a preposition ("in May", not "may").
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

_MONTH_NAMES = {name.lower(): n for n, name in enumerate(calendar.month_name) if name}
_MONTH_NAMES.update({name.lower(): n for n, name in enumerate(calendar.month_abbr) if name})
_MONTH_NAMES["sept"] = 9
_MONTH = r"(?P<month>" + "|".join(sorted(_MONTH_NAMES, key=len, reverse=True)) + r")\.?"
_DAY = r"(?P<day>[0-3]?\d)(?:st|nd|rd|th)?"
_YEAR = r"(?P<year>(?:19|20)\d\d)"
_PREPOSITION = r"(?:in|of|during|since|from|before|after|until|by)"
# Most precise first: a day with its month, then a month, then a year alone.
_PATTERNS = [
    re.compile(rf"\b{_DAY}\s+(?:of\s+)?{_MONTH},?\s+{_YEAR}\b", re.I),
    re.compile(rf"\b{_MONTH}\s+{_DAY},?\s+{_YEAR}\b", re.I),
    re.compile(r"\b(?P<year>(?:19|20)\d\d)-(?P<num>[01]\d)-(?P<day>[0-3]\d)\b"),
    re.compile(rf"\b{_DAY}\s+(?:of\s+)?{_MONTH}\b(?!,?\s+\d)", re.I),
    re.compile(rf"\b{_MONTH}\s+{_DAY}\b(?!,?\s+\d)", re.I),
    re.compile(rf"\b{_MONTH},?\s+{_YEAR}\b", re.I),
    # A month or a year alone only after a preposition: "in May", not "may"; "in 2023", not "2023".
    re.compile(rf"\b{_PREPOSITION}\s+{_MONTH}\b(?!,?\s+\d)", re.I),
    re.compile(rf"\b{_PREPOSITION}\s+{_YEAR}\b", re.I),
]
_UNTIL = re.compile(r"\b(?:by|as of|until|till|up to|through)\s+(?:the\s+)?$", re.I)
_BEFORE = re.compile(r"\b(?:before|prior to)\s+(?:the\s+)?$", re.I)
_AFTER = re.compile(r"\b(?:after|since|from)\s+(?:the\s+)?$", re.I)
_BETWEEN = re.compile(r"\bbetween\s+(?:the\s+)?$", re.I)
# How far past the period it names a window reaches: events are told when they are over.
_TOLD_LATER = {"day": timedelta(days=2), "month": timedelta(days=15), "year": timedelta(days=31)}
# Relative phrases, as how many days back from today their window starts; it ends tomorrow.
_RELATIVE = {"today": 0, "yesterday": 1, "last week": 14, "last month": 62, "last year": 730}


@dataclass(frozen=True)
class Window:
    start: datetime | None  # None: open
    end: datetime | None

    def holds(self, moment: datetime) -> bool:
        moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
        return (self.start is None or moment >= self.start) and (
            self.end is None or moment < self.end
        )


@dataclass(frozen=True)
class _Mention:
    begin: int  # where in the query
    finish: int
    start: datetime
    end: datetime  # exclusive
    precision: str
    has_year: bool


def window(query: str, now: datetime | None = None) -> Window | None:
    """The window the query's first date names, or None when it names none."""
    now = now or datetime.now(UTC)
    mentions = _mentions(query, now)
    if not mentions:
        return _relative(query, now)
    first = mentions[0]
    before = query[: first.begin]
    if _BETWEEN.search(before) and len(mentions) > 1:
        last = mentions[1]
        start = first.start
        if not first.has_year and last.has_year:
            start = start.replace(year=last.start.year)
        return Window(start, last.end + _TOLD_LATER[last.precision])
    if _UNTIL.search(before):
        return Window(None, first.end + _TOLD_LATER[first.precision])
    if _BEFORE.search(before):
        return Window(None, first.start + _TOLD_LATER[first.precision])
    if _AFTER.search(before):
        return Window(first.start, None)
    return Window(first.start, first.end + _TOLD_LATER[first.precision])


def _mentions(query: str, now: datetime) -> list[_Mention]:
    found: list[_Mention] = []
    for pattern in _PATTERNS:
        for match in pattern.finditer(query):
            if any(m.begin < match.end() and match.start() < m.finish for m in found):
                continue  # part of a more precise mention already found
            mention = _mention(match, now)
            if mention is not None:
                found.append(mention)
    return sorted(found, key=lambda m: m.begin)


def _mention(match: re.Match[str], now: datetime) -> _Mention | None:
    """A date without a year is its latest occurrence up to now."""
    parts = match.groupdict()
    year_text = parts.get("year")
    year = int(year_text) if year_text else now.year
    if parts.get("num"):
        month: int | None = int(parts["num"])
    elif parts.get("month"):
        month = _MONTH_NAMES[parts["month"].lower().rstrip(".")]
    else:
        month = None
    try:
        if parts.get("day") and month:
            start = datetime(year, month, int(parts["day"]), tzinfo=UTC)
            end, precision = start + timedelta(days=1), "day"
        elif month:
            start = datetime(year, month, 1, tzinfo=UTC)
            end = datetime(year + month // 12, month % 12 + 1, 1, tzinfo=UTC)
            precision = "month"
        else:
            start, end = datetime(year, 1, 1, tzinfo=UTC), datetime(year + 1, 1, 1, tzinfo=UTC)
            precision = "year"
    except ValueError:  # "31 February"
        return None
    if not year_text and start > now:
        try:
            start, end = start.replace(year=year - 1), end.replace(year=end.year - 1)
        except ValueError:  # 29 February
            return None
    # The mention begins at the date itself, so a preposition before it still reads as a bound.
    begin = min(match.start(g) for g, value in parts.items() if value is not None)
    return _Mention(begin, match.end(), start, end, precision, year_text is not None)


def _relative(query: str, now: datetime) -> Window | None:
    lowered = query.lower()
    for phrase, days_back in _RELATIVE.items():
        if re.search(rf"\b{phrase}\b", lowered):
            day = now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
            return Window(day - timedelta(days=days_back), day + timedelta(days=1))
    return None
