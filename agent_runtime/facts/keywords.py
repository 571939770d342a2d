"""Keyword ranking of facts: SQLite FTS5 BM25, or PostgreSQL full text, under every condition a
search has (tenant, scope, validity, filters).

In SQLite the MATCH drives the query: every fact sharing a query word is joined with its row and
tested against the conditions before the best are kept, so two common names cost the join of
their 2,000 facts at 100,000 (8 ms). A large scope usually holds most of the table (one tenant,
no user), so its ranking is read from the table's own first: the `LEADERS` times the wanted best
of the whole table, joined and filtered. BM25 statistics are table-wide, so when enough of the
leaders pass, that is the scope's ranking exactly. When they do not (the scope is a small share
of a shared table) the full join runs, and the scope is remembered for a while so that its
next searches go straight to the join.

A small scope read whole (an agent's facts section, `FactMemory.few`) is ranked in memory
instead (`rank_few`): BM25 over its own rows, since a MATCH would still join every fact of the
table that shares a word, in every tenant.
"""

from __future__ import annotations

import math
import unicodedata
from collections import Counter
from collections.abc import Hashable, Sequence

from sqlalchemy import ColumnElement, column, table, text
from sqlmodel import Session, col, select
from sqlmodel.sql.expression import SelectOfScalar

from agent_runtime.core.kept import Kept
from agent_runtime.core.words import WORD, query_terms
from agent_runtime.retrieval import keyword, term_stats
from agent_runtime.storage.tables import Fact

CORPUS = "fact"
LEADERS = 3  # the table's leaders read for each fact a search wants (a third may pass)
RETRY = 32  # searches of a scope the leaders missed that go straight to the full join
K1, B = 1.2, 0.75  # BM25's term saturation and length normalisation, FTS5's own


class FactKeywords:
    def __init__(self) -> None:
        self.counts = term_stats.Counts()
        # The scopes the leaders did not serve lately: for `RETRY` searches each goes straight
        # to the full join, then the leaders are tried again (a scope grows, others shrink).
        self.missed: Kept[None] = Kept(RETRY)

    def rank(
        self,
        session: Session,
        query: str,
        conditions: Sequence[ColumnElement[bool]],
        limit: int,
        large: Hashable | None = None,
    ) -> list[int]:
        """Ids of the facts meeting `conditions` that share the query's words, best first. A
        large scope names itself in `large` (any key that tells scopes apart) to have the
        table's leaders tried first."""
        words, identifiers = query_terms(query)
        if not words:
            return []
        if session.get_bind().dialect.name != "sqlite":
            match = " | ".join(term_stats.postgres_kept(session, CORPUS, words))
            statement = (
                select(Fact.id)
                .where(text("fact.tsv @@ to_tsquery('english', :q)"), *conditions)
                .order_by(text("ts_rank(fact.tsv, to_tsquery('english', :q)) DESC"), col(Fact.id))
            )
            return _ids(session, statement.limit(limit).params(q=match))
        rows = session.execute(text("SELECT max(id) FROM fact")).scalar() or 0
        match = keyword.fts5_match(session, CORPUS, words, identifiers, rows, self.counts)
        if large is not None and not self.missed.use(large)[0]:
            lead = (
                text(
                    "SELECT rowid, bm25(fact_fts) AS score FROM fact_fts WHERE fact_fts MATCH :q "
                    "ORDER BY score, rowid LIMIT :over"
                )
                .columns(column("rowid"), column("score"))
                .subquery("lead")
            )
            statement = (
                select(Fact.id)
                .join(lead, lead.c.rowid == Fact.id)
                .where(*conditions)
                .order_by(lead.c.score, col(Fact.id))
            )
            found = _ids(session, statement.limit(limit).params(q=match, over=limit * LEADERS))
            if len(found) == limit:
                return found
            self.missed.put(large, None)
        fts = table("fact_fts", column("rowid"))
        statement = (
            select(Fact.id)
            .join(fts, fts.c.rowid == Fact.id)
            .where(text("fact_fts MATCH :q"), *conditions)
            .order_by(text("bm25(fact_fts)"), col(Fact.id))
        )
        return _ids(session, statement.limit(limit).params(q=match))


def _ids(session: Session, statement: SelectOfScalar[int] | SelectOfScalar[None]) -> list[int]:
    return [int(i) for i in session.exec(statement) if i is not None]


def rank_few(query: str, rows: Sequence[tuple[int, str]]) -> list[int]:
    """Ids of `rows` (id, text) sharing the query's words or identifiers, best first by BM25
    taken over these rows alone: their own document frequencies and lengths, words folded and
    stemmed as FTS5's `porter unicode61` tokenizer has them (each stem counted once), an
    identifier matched as a phrase. Ties go to the lower id, as the table's ranking orders
    them."""
    words, identifiers = query_terms(_folded(query))
    if not words or not rows:
        return []
    stem = term_stats.stemmer("porter")
    terms: list[tuple[str, ...]] = [(t,) for t in dict.fromkeys(stem.stemWords(words))]
    terms += [tuple(stem.stemWords(WORD.findall(i.lower()))) for i in identifiers]
    docs = [(id_, stem.stemWords(WORD.findall(_folded(text_).lower()))) for id_, text_ in rows]
    average = max(sum(len(tokens) for _id, tokens in docs) / len(docs), 1.0)
    found = [(id_, len(tokens), _occurrences(tokens, terms)) for id_, tokens in docs]
    holding = Counter(term for _id, _n, counts in found for term in counts)
    scores: dict[int, float] = {}
    for id_, length, counts in found:
        score = 0.0
        for term, f in counts.items():
            n = holding[term]
            idf = math.log((len(docs) - n + 0.5) / (n + 0.5))
            norm = K1 * (1 - B + B * length / average)
            score += (idf if idf > 0 else 1e-6) * f * (K1 + 1) / (f + norm)
        if counts:
            scores[id_] = score
    return sorted(scores, key=lambda i: (-scores[i], i))


def _occurrences(tokens: list[str], terms: list[tuple[str, ...]]) -> Counter[tuple[str, ...]]:
    """How often each term (a word, or an identifier's words in a row) occurs in `tokens`."""
    words = Counter(tokens)
    out: Counter[tuple[str, ...]] = Counter()
    for term in terms:
        if len(term) == 1:
            hits = words.get(term[0], 0)
        elif term and all(t in words for t in term):
            width = len(term)
            hits = sum(tuple(tokens[i : i + width]) == term for i in range(len(tokens) - width + 1))
        else:
            hits = 0
        if hits:
            out[term] = hits
    return out


def _folded(text_: str) -> str:
    """Diacritics removed, as FTS5's unicode61 tokenizer removes them ("Zürich" is "zurich")."""
    if text_.isascii():
        return text_
    return "".join(c for c in unicodedata.normalize("NFKD", text_) if not unicodedata.combining(c))
