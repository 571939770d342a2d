"""A fresh PostgreSQL database for one benchmark run, dropped after it (bench/jobs.py, load.py)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit


@contextmanager
def fresh_database(server_url: str) -> Iterator[str]:
    """Create `bench_<random>` on the server `server_url` names (any database on it, e.g.
    postgresql://postgres@127.0.0.1:5432/test) and yield its URL; drop it afterwards, closing
    whatever connections are left."""
    import psycopg

    parts = urlsplit(server_url)
    if parts.scheme not in ("postgresql", "postgres"):
        raise SystemExit(f"--database-url must be a postgresql:// URL, not {server_url!r}")
    name = "bench_" + uuid.uuid4().hex[:12]
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield parts._replace(path="/" + name).geturl()
    finally:
        with psycopg.connect(server_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
