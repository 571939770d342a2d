"""Row ids written into the SQL (agent_runtime/storage/ids.py), on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from sqlmodel import Session, select

from agent_runtime.core.specs import FactInput
from agent_runtime.runtime import Runtime
from agent_runtime.storage.ids import among
from agent_runtime.storage.tables import Fact


def test_among_selects_the_ids_given_and_takes_only_integers(runtime: Runtime) -> None:
    written = runtime.facts.write("default", [FactInput(text=f"note {n}") for n in range(4)])
    ids = [int(f.id or 0) for f in written.added]
    with Session(runtime.engine) as session:

        def found(wanted: list[int]) -> list[int]:
            query = select(Fact.id).where(among(Fact.id, wanted)).order_by(Fact.id)  # type: ignore[arg-type]
            return [int(i or 0) for i in session.exec(query)]

        assert found([ids[3], ids[1], 10**9]) == [ids[1], ids[3]]
        assert found([]) == []
        assert found(ids * 2) == ids
        with pytest.raises(ValueError):
            found(["1) OR (1=1"])  # type: ignore[list-item]
