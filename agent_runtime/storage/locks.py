"""Row locks background work does not wait for.

A turn's step locks rows as it goes (a search marks pending rows indexed, paging marks rows
evicted) and the agent's row last, when it adds its messages. The indexer and the expiry sweep
lock the agent's row first, then rows; were they to wait for a row a step holds, the step's wait
for the agent's row would close the circle and PostgreSQL would kill one of them. So they take
only the rows no transaction holds, and leave the others for their next pass. SQLite has one
writer at a time and takes no row locks: every row is free there. The lease keeper and the
indexer's claim pass by an agent's row a step holds the same way.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar

from sqlmodel import Session, col, select

K = TypeVar("K", int, str)  # a table's id


def free(session: Session, table: Any, ids: Sequence[K], *, delete: bool = False) -> list[K]:
    """Those of `ids` no other transaction holds, locked now for this one (FOR NO KEY UPDATE
    SKIP LOCKED, or FOR UPDATE for a `delete`)."""
    if not ids or session.get_bind().dialect.name == "sqlite":
        return list(ids)
    query = select(table.id).where(col(table.id).in_(list(ids)))
    query = query.with_for_update(key_share=not delete, skip_locked=True)
    return [i for i in session.exec(query) if i is not None]
