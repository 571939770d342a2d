"""How common each query word is in a searchable table, and which words a query keeps.

A word in most rows adds almost nothing to BM25 but makes the query score most of the table.
SQLite reads exact document counts from the FTS5 vocabulary table; PostgreSQL reads the lexeme
frequencies ANALYZE keeps for the tsvector column (`pg_stats.most_common_elems`), so neither
costs a scan. Without statistics (a table never analysed) every word is kept.
"""

from __future__ import annotations

import threading
from functools import cache

from sqlalchemy import bindparam, text
from sqlmodel import Session

# A word in more than this share of all rows is dropped (at least two words are always kept).
COMMON_SHARE = 0.3
# And a query scores at most about this many postings: the rarest words go first, so a big table
# costs a bounded amount of work (bench/perf.py; LoCoMo-sized tables never reach it).
POSTINGS_BUDGET = 8_000


def keep_rare(words: list[str], counts: dict[str, int], rows: int) -> list[str]:
    """The rarest words within the share and the budget, in the query's own order."""
    kept: list[str] = []
    postings = 0
    for word in sorted(words, key=lambda w: counts.get(w, 0)):  # rarest first
        count = counts.get(word, 0)
        common = count > COMMON_SHARE * rows or postings + count > POSTINGS_BUDGET
        if common and len(kept) >= 2:
            break
        kept.append(word)
        postings += count
    return [w for w in words if w in kept]


class Counts:
    """Word counts kept between searches. Reading them is not free (fts5vocab walks each word's
    postings: 1.3 ms a query at 100,000 passages) and they move slowly, so a count is read again
    only once its table has grown or shrunk by a tenth since."""

    DRIFT = 0.1
    LIMIT = 50_000  # entries; past it the cache starts over

    def __init__(self) -> None:
        self._seen: dict[tuple[str, str], tuple[int, int]] = {}  # (table, term) -> (count, rows)
        self._lock = threading.Lock()

    def known(self, table: str, terms: list[str], rows: int) -> dict[str, int]:
        with self._lock:
            out = {}
            for term in terms:
                count, then = self._seen.get((table, term), (0, -1))
                if then >= 0 and abs(rows - then) <= self.DRIFT * then:
                    out[term] = count
            return out

    def remember(self, table: str, counts: dict[str, int], rows: int) -> None:
        with self._lock:
            if len(self._seen) + len(counts) > self.LIMIT:
                self._seen.clear()
            for term, count in counts.items():
                self._seen[(table, term)] = (count, rows)


def sqlite_kept(
    session: Session, table: str, words: list[str], rows: int, counts: Counts | None = None
) -> list[str]:
    if len(words) <= 2:
        return words
    stems = stemmer("porter").stemWords(words)  # the algorithm of FTS5's porter tokenizer
    found = counts.known(table, stems, rows) if counts else {}
    missing = [s for s in stems if s not in found]
    if missing:
        read = dict(
            session.execute(
                text(f"SELECT term, doc FROM {table}_fts_vocab WHERE term IN :stems").bindparams(
                    bindparam("stems", expanding=True)
                ),
                {"stems": missing},
            ).all()
        )
        read = {s: read.get(s, 0) for s in missing}
        if counts:
            counts.remember(table, read, rows)
        found |= read
    return keep_rare(words, {w: found[s] for w, s in zip(words, stems, strict=True)}, rows)


def postgres_kept(session: Session, table: str, words: list[str]) -> list[str]:
    if len(words) <= 2:
        return words
    rows = session.execute(
        text("SELECT reltuples FROM pg_class WHERE oid = to_regclass(:table)"), {"table": table}
    ).scalar()
    if not rows or rows < 0:
        return words
    lexemes = stemmer("english").stemWords(words)  # snowball english, as to_tsvector('english')
    found = dict(
        session.execute(
            text(
                "SELECT e, f FROM pg_stats, "
                "unnest(most_common_elems::text::text[], most_common_elem_freqs) AS u(e, f) "
                "WHERE schemaname = current_schema() AND tablename = :table "
                "AND attname = 'tsv' AND e IN :lexemes"
            ).bindparams(bindparam("lexemes", expanding=True)),
            {"table": table, "lexemes": lexemes},
        ).all()
    )
    counts = {w: int(found.get(x, 0.0) * rows) for w, x in zip(words, lexemes, strict=True)}
    return keep_rare(words, counts, int(rows))


@cache
def stemmer(algorithm: str):  # type: ignore[no-untyped-def]
    import Stemmer

    return Stemmer.Stemmer(algorithm)
