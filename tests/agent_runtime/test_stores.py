"""Archival and recall stores through the Python API."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from agent_runtime.core.errors import InvalidInput
from agent_runtime.core.specs import AgentSpec, MessageInput
from agent_runtime.runtime import Runtime


def test_imported_history_may_not_come_from_the_future(runtime: Runtime) -> None:
    agent_id = runtime.create_agent(AgentSpec(name="h")).id
    soon = datetime.now(UTC) + timedelta(hours=2)  # a clock a little ahead: fine
    ok = [MessageInput("user", "earlier", created_at=soon.replace(tzinfo=None))]
    assert runtime.import_messages(agent_id, ok) == 1
    later = [
        MessageInput("user", "fine"),
        MessageInput("user", "from 2099", created_at=datetime(2099, 1, 1, tzinfo=UTC)),
    ]
    with pytest.raises(InvalidInput) as info:
        runtime.import_messages(agent_id, later)
    assert info.value.field == "messages[1].created_at"
    assert [m.content for m in runtime.messages(agent_id)] == ["earlier"]  # all or nothing


def test_row_ids_are_never_reused(runtime: Runtime) -> None:
    agent_id = runtime.create_agent(AgentSpec(name="ids")).id
    first = runtime.insert_passage(agent_id, "the newest row, deleted next")
    runtime.delete_passage(agent_id, first.id or 0)
    second = runtime.insert_passage(agent_id, "a later row")
    assert (second.id or 0) > (first.id or 0)
    hits, _ = runtime.search_archival(agent_id, "later row")  # keywords still work
    assert [h.text for h in hits] == ["a later row"]
