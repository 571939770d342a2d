"""The extraction pipeline: threads that take the extraction queue in batches, ask the batch's
extractor for facts (one model call per batch), and write them through the fact store's rules,
marking the batch done in the same transaction. Failures go back to the queue with a backoff
and are parked, with their error, after a few attempts (extraction.py): nothing is dropped."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session

from agent_runtime.core.activity import GIVE_WAY_SECONDS, give_way, pace
from agent_runtime.core.errors import LeaseLost, MalformedOutput, RecalldError
from agent_runtime.core.settings import Settings
from agent_runtime.core.specs import Scope
from agent_runtime.facts.extraction import Batch, ExtractionQueue
from agent_runtime.facts.extractor import Extracted, Extractor, ModelExtractor, RuleExtractor
from agent_runtime.facts.store import FactMemory, WriteResult
from agent_runtime.llm import LLM
from agent_runtime.llm.offline import OFFLINE
from agent_runtime.storage.tables import Agent

log = logging.getLogger(__name__)
BATCH = 8  # queue rows (turns) per model call
KNOWN_SLOTS = 40  # slots shown to the model so it reuses their names


class ExtractionPipeline:
    def __init__(
        self,
        engine: Engine,
        queue: ExtractionQueue,
        facts: FactMemory,
        llm_for: Callable[[str], LLM],
        key_for: Callable[[str | None], str | None],
        settings: Settings,
        batch: int = BATCH,
        busy: Callable[[], bool] = lambda: False,
    ) -> None:
        self.engine = engine
        self.busy = busy  # turns are running: extraction gives way to them
        self.queue = queue
        self.facts = facts
        self.llm_for = llm_for
        self.key_for = key_for  # a base URL's bound key (llm/endpoints.py)
        self.settings = settings
        self.batch = batch
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self.poll_seconds = settings.worker_poll_seconds

    def start(self, threads: int = 1) -> None:
        self._stop.clear()
        for n in range(threads - len(self._threads)):
            thread = threading.Thread(target=self._run, name=f"recalld-extract-{n}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=30)
        self._threads = []

    def _run(self) -> None:
        while not self._stop.is_set():
            give_way(self.busy, time.monotonic() + GIVE_WAY_SECONDS)
            started = time.monotonic()
            try:
                worked = self.run_once() is not None
            except Exception:  # a bug must not kill the thread; the batch's lease will lapse
                log.exception("extraction failed unexpectedly")
                worked = False
            if worked:
                pace(self.busy, time.monotonic() - started)
            else:
                self._stop.wait(self.poll_seconds)

    def run_once(self, only: str | None = None) -> WriteResult | None:
        """Claim and process one batch; None when there was nothing to claim (or it failed)."""
        batch = self.queue.claim(self.batch, only=only)
        if batch is None:
            return None
        return self.process(batch)

    def process(self, batch: Batch) -> WriteResult | None:
        messages: list[dict[str, Any]] = []
        evidence: list[str] = []
        for row in batch.rows:
            for i, message in enumerate(row.messages):
                messages.append(message)
                source = message.get("message_id")
                evidence.append(f"message:{source}" if source else f"{row.id}#{i}")
        extracted = Extracted()
        try:
            extractor = self._extractor(batch)
            known = self._known(batch.tenant, batch.scope)
            extracted = extractor.extract(messages, known, evidence)
            calls = extracted.calls
            return self.facts.write(
                batch.tenant,
                extracted.facts,
                batch.scope,
                actor="extraction",
                also=lambda session, result: self.queue.finish(
                    session, batch, _summary(result, len(messages)), calls
                ),
            )
        except LeaseLost:
            log.info("extraction %s: its lease lapsed; its new holder does it", batch.first.id)
            return None
        except RecalldError as exc:
            # a malformed answer took its repair attempt too
            calls = 2 if isinstance(exc, MalformedOutput) else 1
            parked = self.queue.fail(batch, f"{exc.code}: {exc.message}", calls)
            log.warning(
                "extraction of %s %s: %s",
                batch.first.id,
                "parked" if parked else "will be retried",
                exc.message,
            )
            return None

    def _extractor(self, batch: Batch) -> Extractor:
        agent = None
        if batch.first.agent_id is not None:
            with Session(self.engine) as session:
                agent = session.get(Agent, batch.first.agent_id)
        named = batch.first.model or self.settings.memory_model
        if agent is not None:
            model = batch.first.model or agent.memory_model or named or agent.model
        else:
            model = named or self.settings.default_model
        if model == OFFLINE:
            return RuleExtractor()
        # The agent's own endpoint serves its own model; a named memory model is a default one.
        base_url = agent.model_base_url if agent is not None and model == agent.model else None
        return ModelExtractor(
            self.llm_for(model),
            model,
            base_url=base_url,
            api_key=self.key_for(base_url),
            timeout=self.settings.llm_timeout_seconds,
        )

    def _known(self, tenant: str, scope: Scope) -> list[str]:
        """The scope's current slots and values, newest first, for the prompt."""
        rows = self.facts.list_(
            tenant, scope, filters={"attribute": {"ne": ""}}, limit=500, exact_scope=True
        )
        newest = sorted(rows, key=lambda r: r.updated_at, reverse=True)[:KNOWN_SLOTS]
        return [
            f"{r.subject} {r.attribute} ({r.cardinality}) = {r.value} "
            f"(since {r.valid_at.date().isoformat()})"
            for r in newest
        ]


def _summary(result: WriteResult, messages: int) -> dict[str, Any]:
    return {
        "messages": messages,
        "added": [f.id for f in result.added],
        "merged": [f.id for f in result.merged],
        "superseded": [f.id for f, _by in result.superseded],
        "negated": [f.id for f in result.negated],
        "unchanged": len(result.unchanged),
    }
