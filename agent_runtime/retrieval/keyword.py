"""Keyword ranking in the database: SQLite FTS5 BM25 (Porter stemming) or PostgreSQL full text."""

from __future__ import annotations

import json
from datetime import datetime

from sqlalchemy import bindparam, text
from sqlmodel import Session
from sqlmodel.sql.sqltypes import UTCDateTime

from agent_runtime.core.words import WORD, query_terms
from agent_runtime.retrieval import term_stats
from agent_runtime.retrieval.corpus import Corpus


def rank(
    session: Session,
    table: Corpus,
    agent_id: str,
    query: str,
    *,
    limit: int,
    start: datetime | None = None,
    end: datetime | None = None,
    tags: list[str] | None = None,
    roles: list[str] | None = None,
    counts: term_stats.Counts | None = None,
) -> list[int]:
    """Row ids best first. `counts` keeps word counts between calls (SQLite)."""
    words, identifiers = query_terms(query)
    if not words:
        return []
    sqlite = session.get_bind().dialect.name == "sqlite"
    params: dict[str, object] = {"agent_id": agent_id, "limit": limit}
    filters = ["r.agent_id = :agent_id"]
    if start is not None:
        filters.append("r.created_at >= :start")
        params["start"] = start
    if end is not None:
        filters.append("r.created_at <= :end")
        params["end"] = end
    for i, tag in enumerate(tags or []):
        params[f"tag{i}"] = tag
        if sqlite:
            filters.append(f"EXISTS (SELECT 1 FROM json_each(r.tags) WHERE value = :tag{i})")
        else:
            params[f"tag{i}"] = json.dumps([tag])
            filters.append(f"CAST(r.tags AS jsonb) @> CAST(:tag{i} AS jsonb)")
    if roles:
        names = ", ".join(f":role{i}" for i in range(len(roles)))
        filters.append(f"r.role IN ({names})")
        params.update({f"role{i}": r for i, r in enumerate(roles)})
    where = " AND ".join(filters)
    if sqlite:
        return _rank_sqlite(session, table, words, identifiers, where, params, limit, counts)
    params["q"] = " | ".join(term_stats.postgres_kept(session, table.name, words))
    sql = (
        f"SELECT r.id FROM {table.name} r, to_tsquery('english', :q) q "
        f"WHERE r.tsv @@ q AND {where} ORDER BY ts_rank(r.tsv, q) DESC, r.id LIMIT :limit"
    )
    return _ids(session, sql, params)


def fts5_match(
    session: Session,
    table: str,
    words: list[str],
    identifiers: list[str],
    rows: int,
    counts: term_stats.Counts | None,
) -> str:
    """An FTS5 MATCH expression: any of the query's rarer words, or an identifier as a phrase."""
    words = term_stats.sqlite_kept(session, table, words, rows, counts)
    terms = [f'"{w}"' for w in words]
    terms += ['"' + " ".join(WORD.findall(i.lower())) + '"' for i in identifiers]
    return " OR ".join(terms)


def _ids(session: Session, sql: str, params: dict[str, object]) -> list[int]:
    statement = text(sql).bindparams(
        *[bindparam(name, type_=UTCDateTime()) for name in ("start", "end") if name in params]
    )
    return [row[0] for row in session.execute(statement, params)]


def _rank_sqlite(
    session: Session,
    table: Corpus,
    words: list[str],
    identifiers: list[str],
    where: str,
    params: dict[str, object],
    limit: int,
    counts: term_stats.Counts | None,
) -> list[int]:
    rows = session.execute(text(f"SELECT max(id) FROM {table.name}")).scalar() or 0
    params["q"] = fts5_match(session, table.name, words, identifiers, rows, counts)
    name = table.name
    weights = ", ".join(map(str, table.weights))
    scored = (
        f"SELECT rowid, bm25({name}_fts, {weights}) AS score "
        f"FROM {name}_fts WHERE {name}_fts MATCH :q"
    )
    owned = session.execute(
        text(f"SELECT {name}_count FROM agent WHERE id = :agent_id"), params
    ).scalar()
    if owned and owned >= OWNER_SHARE * rows:
        # BM25 statistics are table-wide, so filtering the table's own ranking keeps the agent's
        # order; only when too few of the leaders pass the filters is the full join needed.
        params["over"] = limit * OVERFETCH
        first = _ids(
            session,
            f"SELECT r.id FROM ({scored} ORDER BY score, rowid LIMIT :over) f "
            f"JOIN {name} r ON r.id = f.rowid WHERE {where} ORDER BY f.score, r.id LIMIT :limit",
            params,
        )
        if len(first) == limit:
            return first
    return _ids(
        session,
        f"SELECT r.id FROM {name}_fts f JOIN {name} r ON r.id = f.rowid "
        f"WHERE {name}_fts MATCH :q AND {where} "
        f"ORDER BY bm25({name}_fts, {weights}), r.id LIMIT :limit",
        params,
    )


# When an agent owns at least this share of a table, its keyword search ranks the table first
# and filters the leaders (`OVERFETCH` times the rows wanted) afterwards: the join with the row
# table then touches a few hundred rows instead of every match (bench/perf.py, 100k passages:
# keyword p50 8.7 -> 5.9 ms).
OWNER_SHARE = 0.5
OVERFETCH = 2
