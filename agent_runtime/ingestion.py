"""Messages in, facts out, with no agent needed (Mem0's `add`): `POST /v1/memories` with
`messages`. With `infer` the messages go through the extraction queue (polled by id, or waited
for); without it each message is stored as a fact statement as it is."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from agent_runtime.core.errors import InvalidInput, LimitExceeded, NotFound
from agent_runtime.core.limits import MAX_INPUT_CHARS
from agent_runtime.core.specs import FactInput, MessageInput, Scope
from agent_runtime.facts.extraction import ExtractionQueue, enqueue
from agent_runtime.facts.pipeline import ExtractionPipeline
from agent_runtime.facts.slots import aware
from agent_runtime.facts.store import FactMemory, WriteResult
from agent_runtime.storage.database import transaction
from agent_runtime.storage.tables import Agent, Extraction, utcnow

MAX_MESSAGES = 100
ROLES = ("user", "assistant", "system")


@dataclass
class Ingested:
    extraction: Extraction | None  # None when nothing was queued (infer=False)
    result: WriteResult | None  # None until the facts are written


class Ingestion:
    def __init__(
        self, facts: FactMemory, queue: ExtractionQueue, pipeline: ExtractionPipeline
    ) -> None:
        self.facts = facts
        self.queue = queue
        self.pipeline = pipeline

    def remember(
        self,
        tenant: str,
        messages: Sequence[MessageInput],
        scope: Scope = Scope(),  # noqa: B008 (frozen, never changed)
        *,
        infer: bool = True,
        wait: bool = False,
        model: str | None = None,
    ) -> Ingested:
        _check(messages)
        if not infer:
            facts = [
                FactInput(text=m.content.strip(), valid_at=m.created_at, evidence=[f"ingested:{i}"])
                for i, m in enumerate(messages)
            ]
            return Ingested(None, self.facts.write(tenant, facts, scope, actor="ingestion"))
        rows = [
            {
                "role": m.role,
                "content": m.content,
                "created_at": aware(m.created_at or utcnow()).isoformat(),
            }
            for m in messages
        ]
        with transaction(self.facts.engine) as session:
            if scope.agent_id is not None:
                agent = session.get(Agent, scope.agent_id)
                if agent is None or agent.tenant_id != tenant:
                    raise NotFound(f"agent {scope.agent_id!r} not found")
            row = enqueue(session, tenant, rows, scope, model)
        result = self.pipeline.run_once(only=row.id) if wait else None
        return Ingested(self.queue.get(tenant, row.id), result)

    def get(self, tenant: str, ingestion_id: str) -> Extraction:
        return self.queue.get(tenant, ingestion_id)


def _check(messages: Sequence[MessageInput]) -> None:
    if not messages:
        raise InvalidInput("send at least one message", field="messages")
    if len(messages) > MAX_MESSAGES:
        raise LimitExceeded(f"at most {MAX_MESSAGES} messages at once", field="messages")
    for i, m in enumerate(messages):
        where = f"messages[{i}]"
        if m.role not in ROLES:
            raise InvalidInput(f"{where}: role must be one of {', '.join(ROLES)}", field=where)
        if not m.content.strip():
            raise InvalidInput(f"{where}: content is empty", field=f"{where}.content")
        if len(m.content) > MAX_INPUT_CHARS:
            raise LimitExceeded(
                f"{where}: content is at most {MAX_INPUT_CHARS} characters",
                field=f"{where}.content",
            )
