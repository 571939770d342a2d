"""A bounded schemathesis run against the app: every operation, from its OpenAPI document, with
valid and invalid inputs. No answer may be a 5xx or break the response schema it declares."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from pydantic import ValidationError
from schemathesis.python.asgi import shutdown_lifespans
from starlette.applications import Starlette

from agent_runtime.core.specs import AgentSpec, BlockSpec, FactInput, MessageInput
from agent_runtime.llm.scripted import ScriptedLLM, echo_summary
from agent_runtime.runtime import Runtime
from agent_runtime.storage import keys
from server.app import OPERATIONS
from server.openapi import document

TENANT = "fuzz"
CONFIG: dict[str, Any] = {
    "seed": 20261125,
    "generation": {"max-examples": 8, "mode": "all", "database": "none"},
    "phases": {
        "examples": {"enabled": False},
        "coverage": {"enabled": True},
        "fuzzing": {"enabled": True},
        "stateful": {"enabled": False},
    },
    "checks": {
        # Valid by the schema is not always acceptable: the runtime also refuses what needs the
        # database to judge (a name in use, an unknown cursor) or a calendar (2023-02-30).
        "positive_data_acceptance": {"enabled": False},
    },
}
PATHS = {op.path: op.path_params for op in OPERATIONS}

# The document the app serves (tests/server/test_openapi.py checks it is the same).
schema = schemathesis.openapi.from_dict(
    document(OPERATIONS, title="recalld", version="test"),
    config=schemathesis.Config.from_dict(CONFIG),
)


@pytest.fixture
def world(app: Starlette, runtime: Runtime) -> Iterator[dict[str, Any]]:
    """An agent with a message, a passage, a shared block, an ended job and a fact to aim at,
    and the key of their tenant (the test client is not a loopback address)."""
    runtime.services.llm_for = lambda _model: ScriptedLLM(fallback=echo_summary)
    agent = runtime.create_agent(AgentSpec(name="fuzz"), tenant=TENANT)
    runtime.send(agent.id, ["hello"], tenant=TENANT)
    passage = runtime.insert_passage(agent.id, "a passage", tenant=TENANT)
    block = runtime.create_block(BlockSpec("shared", "a shared block"), tenant=TENANT)
    job = runtime.jobs.submit(agent.id, "a goal", tenant=TENANT)
    runtime.jobs.cancel(job.id, tenant=TENANT)  # ended: its event stream ends too
    fact = runtime.facts.write(TENANT, [FactInput(subject="Ada", attribute="likes", value="tea")])
    ingestion = runtime.ingestion.remember(TENANT, [MessageInput("user", "I like tea")])
    ids = {
        "agent_id": agent.id,
        "label": "human",
        "block_id": block.id,
        "passage_id": passage.id,
        "job_id": job.id,
        "fact_id": fact.added[0].id,
        "ingestion_id": ingestion.extraction.id if ingestion.extraction else "",
        "tool": "no-such-tool",  # no tool may call out here (no allowed URLs): a 404 path
        "server": "no-such-server",  # nor an MCP server
    }
    key = keys.create(runtime.engine, TENANT)
    ids["key_id"] = keys.issue(runtime.engine, TENANT, "fuzzed", "member").row.id
    try:
        yield {"ids": ids, "headers": {"Authorization": f"Bearer {key}"}}
    finally:
        shutdown_lifespans()  # schemathesis keeps an app's lifespan running until told


def aim(case: schemathesis.Case, ids: dict[str, Any]) -> None:
    """Valid path parameters name the world's resources, so the handlers run past a 404;
    invalid ones stay as generated."""
    model = PATHS[case.path]
    if model is None:
        return
    try:
        model.model_validate(case.path_parameters)
    except ValidationError:
        return
    case.path_parameters.update({name: ids[name] for name in case.path_parameters})


@schema.parametrize()
# One app and database per operation, shared by its examples.
@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_no_operation_fails_or_breaks_its_schema(
    case: schemathesis.Case, app: Starlette, world: dict[str, Any]
) -> None:
    aim(case, world["ids"])
    case.call_and_validate(app=app, headers=world["headers"])
