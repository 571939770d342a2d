"""How common each query word is in a searchable table, and which words a query keeps.

A word in most rows adds almost nothing to BM25 but makes the query score most of the table.
SQLite reads exact document counts from the FTS5 vocabulary table; PostgreSQL reads the lexeme
frequencies ANALYZE keeps for the tsvector column (`pg_stats.most_common_elems`), so neither
costs a scan. Without statistics (a table never analysed) every word is kept.
"""

from __future__ import annotations

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


def sqlite_kept(session: Session, table: str, words: list[str], rows: int) -> list[str]:
    if len(words) <= 2:
        return words
    stems = _stemmer("porter").stemWords(words)  # the algorithm of FTS5's porter tokenizer
    found = dict(
        session.execute(
            text(f"SELECT term, doc FROM {table}_fts_vocab WHERE term IN :stems").bindparams(
                bindparam("stems", expanding=True)
            ),
            {"stems": stems},
        ).all()
    )
    counts = {w: found.get(s, 0) for w, s in zip(words, stems, strict=True)}
    return keep_rare(words, counts, rows)


def postgres_kept(session: Session, table: str, words: list[str]) -> list[str]:
    if len(words) <= 2:
        return words
    rows = session.execute(
        text("SELECT reltuples FROM pg_class WHERE oid = to_regclass(:table)"), {"table": table}
    ).scalar()
    if not rows or rows < 0:
        return words
    lexemes = _stemmer("english").stemWords(words)  # snowball english, as to_tsvector('english')
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
def _stemmer(algorithm: str):  # type: ignore[no-untyped-def]
    import Stemmer

    return Stemmer.Stemmer(algorithm)
