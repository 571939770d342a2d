"""`Runtime`: the Python API of recalld. The REST server and the job workers sit on top of it.

Every method takes the caller's tenant; another tenant's agent or block is simply not found.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future
from dataclasses import replace

from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from agent_runtime import exporter
from agent_runtime.core.activity import Activity
from agent_runtime.core.errors import Conflict, InvalidInput, LimitExceeded
from agent_runtime.core.limits import MAX_STEPS_LIMIT
from agent_runtime.core.settings import Settings
from agent_runtime.core.specs import AgentPatch, AgentSpec, Fallback, Scope
from agent_runtime.core.vocabulary import MemoryMode
from agent_runtime.core_memory import CoreMemory
from agent_runtime.embedding import Embedder, make_embedder
from agent_runtime.expiry import Expiry
from agent_runtime.facts import context as facts_context
from agent_runtime.facts.context import FactsSection
from agent_runtime.facts.extraction import ExtractionQueue
from agent_runtime.facts.pipeline import ExtractionPipeline
from agent_runtime.facts.store import FactMemory
from agent_runtime.history import MemoryHistory
from agent_runtime.importer import Importer
from agent_runtime.ingestion import Ingestion
from agent_runtime.jobs.queue import Jobs
from agent_runtime.llm import LLM, Delta, Usage
from agent_runtime.llm.endpoints import Endpoints
from agent_runtime.llm.offline import OFFLINE
from agent_runtime.llm.router import model_router, route_check
from agent_runtime.llm.tokens import TokenCounter
from agent_runtime.memory import agents as agents_
from agent_runtime.memory import blocks as blocks_
from agent_runtime.memory import messages as messages_
from agent_runtime.memory import window
from agent_runtime.retrieval.doctor import Doctor, Finding
from agent_runtime.retrieval.indexer import Indexer
from agent_runtime.retrieval.search import Fusion, Searcher
from agent_runtime.retrieval.vector_index import ChromaIndex, VectorIndex
from agent_runtime.storage import keys
from agent_runtime.storage.database import make_engine, transaction, upgrade
from agent_runtime.storage.processes import Processes
from agent_runtime.storage.tables import Agent
from agent_runtime.stores import DEFAULT_TENANT, ArchivalMemory, RecallMemory, page
from agent_runtime.tools import catalogue
from agent_runtime.tools.custom_tools import CustomTools
from agent_runtime.tools.http_tool import HttpClient
from agent_runtime.tools.mcp_client import McpClient
from agent_runtime.turns import idempotency
from agent_runtime.turns.leases import Lease, LeaseKeeper
from agent_runtime.turns.loop import EventSink, TurnOptions, TurnResult, TurnRunner
from agent_runtime.turns.services import Embedders, Services
from memory_tools import ToolRegistry, default_registry

log = logging.getLogger(__name__)


class Runtime:
    def __init__(
        self,
        settings: Settings,
        *,
        llm: LLM | None = None,
        embedder_factory: Callable[[str], Embedder] | None = None,
        index: VectorIndex | None = None,
        tools: ToolRegistry | None = None,
        http_client: HttpClient | None = None,
        mcp_client: McpClient | None = None,
        fusion: Fusion | None = None,
        background_indexing: bool = True,
    ) -> None:
        self.settings = settings
        if embedder_factory is None and settings.default_embedding == "local":
            from agent_runtime.embedding.minilm import model_dir

            model_dir()  # say now, at start-up, that the weights are missing; not per request
        engine = make_engine(settings.sqlalchemy_url, threads=settings.request_threads + 32)
        upgrade(engine)
        self.processes = Processes(engine, settings.heartbeat_seconds)
        self.processes.start()
        self.lease_keeper = LeaseKeeper()
        if index is None:
            index = (
                ChromaIndex(url=settings.chroma_url)
                if settings.chroma_url
                else ChromaIndex(path=settings.chroma_path)
            )
        embedders = Embedders(
            embedder_factory or functools.partial(make_embedder, models_dir=settings.models_path)
        )
        self.activity = Activity()
        indexer = Indexer(
            engine,
            index,
            embedders.get,
            settings.default_embedding,
            self.processes,
            busy=self.activity.busy,
        )
        searcher = Searcher(index, indexer.catch_up, fusion)
        if background_indexing:
            indexer.start()
        self.facts = FactMemory(
            engine,
            index,
            lambda: embedders.get(settings.default_embedding),
            self._lifetimes,
            fusion,
        )
        self.services = Services(
            settings=settings,
            engine=engine,
            llm_for=model_router(llm, settings),
            check_route=route_check(llm),
            endpoints=Endpoints(settings.allowed_base_urls, settings.base_url_keys),
            embedders=embedders,
            searcher=searcher,
            indexer=indexer,
            tools=tools or default_registry(),
            counter=TokenCounter(),
            facts=self.facts,
        )
        self.runner = TurnRunner(self.services)
        reserved = frozenset(self.services.tools.names()) | catalogue.JOB_TOOLS
        self.custom_tools = CustomTools(engine, settings, reserved, http_client, mcp_client)
        # The stores are parts of the runtime; their methods are its Python API as they are.
        self.archival = ArchivalMemory(self.services)
        self.recall = RecallMemory(self.services)
        self.insert_passage = self.archival.insert_passage
        self.insert_passages = self.archival.insert_passages
        self.passages = self.archival.passages
        self.search_archival = self.archival.search_archival
        self.delete_passage = self.archival.delete_passage
        self.messages = self.recall.messages
        self.import_messages = self.recall.import_messages
        self.search_recall = self.recall.search_recall
        self.extraction = ExtractionQueue(engine, settings.extraction_lease_seconds)
        self.pipeline = ExtractionPipeline(
            engine,
            self.extraction,
            self.facts,
            self.services.llm_for,
            self.services.endpoints.key_for,
            settings,
            busy=self.activity.busy,
        )
        self.ingestion = Ingestion(self.facts, self.extraction, self.pipeline)
        self.core_memory = CoreMemory(self.services)
        self.blocks = self.core_memory.blocks
        self.block = self.core_memory.block
        self.update_block = self.core_memory.update_block
        self.create_block = self.core_memory.create_block
        self.list_blocks = self.core_memory.list_blocks
        self.get_block = self.core_memory.get_block
        self.block_agents = self.core_memory.block_agents
        self.patch_block = self.core_memory.patch_block
        self.delete_block = self.core_memory.delete_block
        self.attach_block = self.core_memory.attach_block
        self.detach_block = self.core_memory.detach_block
        self.history = MemoryHistory(self.services, self.facts, self.core_memory.patch)
        self.importer = Importer(self.services, self.facts, self._check_model)
        self.expiry = Expiry(
            engine, self.facts, index, embedders.get, settings.expiry_sweep_seconds
        )
        if background_indexing:
            self.expiry.start()
        self.jobs = Jobs(engine)
        self.keys = keys.KeyLookup(engine)
        if settings.bootstrap_admin_key:  # the first admin key, chosen by the operator
            keys.adopt(engine, settings.bootstrap_admin_key, DEFAULT_TENANT)

    def _lifetimes(self, session: Session, scope: Scope) -> dict[str, float | None]:
        """How long episodic memory written in `scope` lives: its agent's choice, else ours."""
        agent = None if scope.agent_id is None else session.get(Agent, scope.agent_id)
        return self.settings.lifetimes(None if agent is None else agent.memory_ttl)

    def close(self) -> None:
        self.pipeline.stop()
        self.expiry.stop()
        self.lease_keeper.stop()
        self.processes.stop()
        self.services.indexer.stop()
        self.services.searcher.close()
        self.facts.close()
        self.keys.close()  # its pending "last used" writes land first
        self.custom_tools.close()
        self.services.engine.dispose()

    # -- agents -----------------------------------------------------------------------------

    @property
    def engine(self) -> Engine:
        return self.services.engine

    def _read(self) -> Session:
        return Session(self.services.engine, expire_on_commit=False)

    def multi_tenant(self) -> bool:
        """True once any API key exists; then tenants may not pick where model calls go."""
        return self.keys.any()

    def tenant_for_key(self, key: str) -> str | None:
        """The tenant an API key belongs to (None if it is no key), mostly from memory."""
        return self.keys.tenant(key)

    def warm_up(self) -> None:
        """Load now what the first turn would otherwise load while its user waits: litellm and
        its token counter when a provider's model is the default or an agent's, and the local
        embedding model when it is the default (a remote embedder is not called: that would be
        a request to a provider). A server whose agents all use the offline model never loads
        litellm; creating an agent with another model loads it then (its route is checked)."""
        model = self._provider_model()
        if model is not None:
            self.services.counter.text(model, "warm up")
        if self.settings.default_embedding == "local":
            self.services.embedders.get("local").embed(["warm up"])
        elif self.settings.default_embedding != "fake":  # a provider's embedding model
            from agent_runtime.llm import litellm_model

            litellm_model.load()

    def _provider_model(self) -> str | None:
        """A model some turn will send to a provider, if any: the default, or any agent's."""
        for model in (self.settings.default_model, self.settings.memory_model):
            if model is not None and model != OFFLINE:
                return model
        with self._read() as session:
            found = session.exec(select(Agent.model).where(Agent.model != OFFLINE).limit(1))
            return found.first()

    def sweep(self) -> int:
        """Index whatever a crash left waiting for its vectors (run once at start)."""
        return self.services.indexer.sweep() + self.facts.vectors.index_pending()

    def export_agent(self, agent_id: str, *, tenant: str = DEFAULT_TENANT) -> Iterator[str]:
        """The agent's document (agent_file.AgentDocument), as JSON text in pieces."""
        return exporter.export(self.engine, tenant, agent_id)

    def _check_memory_model(self, model: str | None) -> None:
        if model is not None and model != OFFLINE:
            agents_.check_model_name(model)
            self.services.check_route(model)

    def _check_model(self, model: str, base_url: str | None) -> None:
        agents_.check_model_name(model)
        self.services.endpoints.check(base_url, multi_tenant=self.multi_tenant())
        if base_url is None:  # with a base URL, any name goes to an OpenAI-compatible server
            self.services.check_route(model)

    def _check_fallbacks(self, fallbacks: list[Fallback] | None) -> None:
        for number, fallback in enumerate(fallbacks or [], 1):
            try:
                self._check_model(fallback.model, fallback.base_url)
            except InvalidInput as exc:
                raise InvalidInput(
                    f"fallback model {number}: {exc.message}", field="fallback_models"
                ) from exc

    def create_agent(self, spec: AgentSpec, *, tenant: str = DEFAULT_TENANT) -> Agent:
        self._check_model(spec.model or self.settings.default_model, spec.model_base_url)
        self._check_fallbacks(spec.fallback_models)
        if spec.embedding:
            self.services.embedders.get(spec.embedding)  # fail now, not on the first message
        self._check_memory_model(spec.memory_model)
        try:
            with transaction(self.engine) as session:
                return agents_.create(session, tenant, spec, self.settings, self.services.counter)
        except IntegrityError as exc:  # a concurrent create took the name first
            raise Conflict(f"an agent named {spec.name!r} already exists") from exc

    def get_agent(self, agent_id: str, *, tenant: str = DEFAULT_TENANT) -> Agent:
        with self._read() as session:
            return agents_.get(session, tenant, agent_id)

    def find_agent(self, ref: str, *, tenant: str = DEFAULT_TENANT) -> Agent | None:
        """The agent named `ref`, else the one whose id it is; None when neither is the
        tenant's (callers say where to find the names)."""
        with self._read() as session:
            return agents_.find(session, tenant, ref)

    def list_agents(
        self,
        *,
        tenant: str = DEFAULT_TENANT,
        limit: int = 50,
        after: str | None = None,
        name: str | None = None,
        containing: str | None = None,
    ) -> list[Agent]:
        with self._read() as session:
            return agents_.list_(
                session, tenant, limit=page(limit), after=after, name=name, containing=containing
            )

    def update_agent(
        self, agent_id: str, patch: AgentPatch, *, tenant: str = DEFAULT_TENANT
    ) -> Agent:
        with transaction(self.engine) as session:
            agent = agents_.get(session, tenant, agent_id)
            self._check_memory_model(patch.memory_model)
            self._check_fallbacks(patch.fallback_models)
            if patch.model is not None or patch.model_base_url is not None:
                self._check_model(
                    agent.model if patch.model is None else patch.model,
                    patch.model_base_url or agent.model_base_url,
                )
            return agents_.update(session, agent, patch, self.services.counter)

    def delete_agent(self, agent_id: str, *, tenant: str = DEFAULT_TENANT) -> None:
        with transaction(self.engine) as session:
            agent = agents_.get(session, tenant, agent_id)
            embedding = agent.embedding
            own_blocks = blocks_.of_agent(session, agent_id)
            session.delete(agent)
            session.flush()
            for block in own_blocks:
                if block.owner_agent_id != agent_id:
                    continue
                if blocks_.agents_of(session, block.id):
                    block.owner_agent_id = None  # still shared: it outlives its maker
                    session.add(block)
                else:
                    session.delete(block)
        self.services.indexer.drop_agent(agent_id, embedding)

    # -- chat -------------------------------------------------------------------------------

    def send(
        self,
        agent_id: str,
        messages: Sequence[dict[str, str] | tuple[str, str] | str],
        *,
        tenant: str = DEFAULT_TENANT,
        max_steps: int | None = None,
        on_message: EventSink | None = None,
        on_delta: Callable[[int, Delta], None] | None = None,
        cancelled: Callable[[], bool] | None = None,
        idempotency_key: str | None = None,
        user_id: str | None = None,
    ) -> TurnResult:
        """Run one turn: record the messages, then step until the model answers without a tool.

        With `idempotency_key`, a repeated send returns the turn the first one saved
        (`replayed` is then True) instead of running another."""
        inputs = [_as_input(m) for m in messages]
        if not inputs:
            raise InvalidInput("send at least one message", field="messages")
        if max_steps is not None and not 1 <= max_steps <= MAX_STEPS_LIMIT:
            raise InvalidInput(f"max_steps must be 1 to {MAX_STEPS_LIMIT}", field="max_steps")
        if idempotency_key is not None:
            idempotency.check(idempotency_key)
        options = TurnOptions(
            max_steps=max_steps,
            on_message=on_message,
            on_delta=on_delta,
            idempotency_key=idempotency_key,
            user_id=user_id,
        )
        if cancelled is not None:
            options.cancelled = cancelled
        return self.run_turn(agent_id, inputs, options, tenant=tenant)

    def run_turn(
        self,
        agent_id: str,
        inputs: list[tuple[str, str]],
        options: TurnOptions,
        *,
        tenant: str = DEFAULT_TENANT,
        lease_seconds: float | None = None,
    ) -> TurnResult:
        """Run a turn with full control (tools, hooks); `send` is the everyday form."""
        agent = self.check_turn(agent_id, inputs, tenant=tenant)
        with self.activity.turn():
            facts = self.runner.facts_section(agent, inputs, options.user_id)
            return self._leased_turn(agent_id, inputs, options, lease_seconds, facts)

    def _leased_turn(
        self,
        agent_id: str,
        inputs: list[tuple[str, str]],
        options: TurnOptions,
        lease_seconds: float | None,
        facts: Future[FactsSection | None] | None,
    ) -> TurnResult:
        lease = Lease(
            self.engine,
            agent_id,
            lease_seconds or self.settings.lease_seconds,
            self.processes,
            self.lease_keeper,
        )
        lease.take(self.settings.busy_wait_seconds)
        key = options.idempotency_key
        result: TurnResult | None = None
        try:
            if key is not None:  # under the lease: no second request can start this key
                replay = self._replay(agent_id, key, inputs)
                if replay is not None:
                    return replay
            # The agent's custom tools as attached now, added outside the loop.
            base = options.tools or self.services.tools
            options.tools = self.custom_tools.registry(agent_id, base)
            result = self.runner.run(agent_id, inputs, options, lease, facts)
            return result
        finally:
            if key is not None and lease.stop_reason is not None:
                with transaction(self.engine) as session:
                    idempotency.finish(session, agent_id, key, lease.stop_reason, result)
            lease.release()

    def check_turn(
        self, agent_id: str, inputs: list[tuple[str, str]], *, tenant: str = DEFAULT_TENANT
    ) -> Agent:
        """Every refusal a turn can meet before it starts (its input, the agent, where its model
        is), checked before waiting on a busy agent, and by a stream before it answers 200.
        Returns the agent as read."""
        most = self.settings.max_messages_per_send
        if len(inputs) > most:
            raise LimitExceeded(
                f"{len(inputs)} messages in one send; the limit is {most} "
                "(RECALLD_MAX_MESSAGES_PER_SEND)",
                field="messages",
            )
        for i, (role, content) in enumerate(inputs):
            try:
                messages_.check_input(role, content)
            except InvalidInput as exc:
                where = f"messages[{i}]"
                raise InvalidInput(f"{where}: {exc.message}", field=f"{where}.{exc.field}") from exc
        agent = self.get_agent(agent_id, tenant=tenant)
        # Checked per turn: API keys (and so the allow-list) may have come since the agent.
        self.services.endpoints.check(agent.model_base_url, multi_tenant=self.multi_tenant())
        return agent

    def _replay(self, agent_id: str, key: str, inputs: list[tuple[str, str]]) -> TurnResult | None:
        with self._read() as session:
            found = idempotency.find(session, agent_id, key, inputs)
        if found is None:
            return None
        row, rows = found
        return TurnResult(
            turn_id=row.turn_id,
            messages=rows,
            stop_reason=row.stop_reason or idempotency.INTERRUPTED,
            steps=row.steps,
            usage=Usage(row.prompt_tokens, row.completion_tokens),
            replayed=True,
        )

    # -- indexing ---------------------------------------------------------------------------

    def index_status(
        self, *, tenant: str | None = None, agent_id: str | None = None
    ) -> dict[str, object]:
        """Rows waiting for vectors, rows parked after failing, the latest failure: of one
        agent (checked against `tenant`), of one tenant, or of every tenant (tenant=None)."""
        if agent_id is not None:
            self.get_agent(agent_id, tenant=tenant or DEFAULT_TENANT)
        return self.services.indexer.status(tenant=tenant, agent_id=agent_id)

    def health(self, *, tenant: str | None) -> dict[str, object]:
        """`status` (ok, or degraded while indexing fails for everyone), and the indexer's
        figures for one tenant, or for all (tenant=None: the operator)."""
        return {
            "status": self.status(),
            "database": self.engine.dialect.name,
            "default_model": self.settings.default_model,
            "auth": "api_keys" if self.multi_tenant() else "loopback_only",
            "indexer": self.services.indexer.status(tenant=tenant),
            "memory": self.expiry.status(tenant),
            "extraction": self.extraction.status(tenant=tenant),
        }

    def status(self) -> str:
        """ok or degraded, and nothing else: what anyone may know."""
        return "degraded" if self.services.indexer.degraded() else "ok"

    def doctor(
        self, agent_id: str | None = None, *, tenant: str = DEFAULT_TENANT, repair: bool = False
    ) -> list[Finding]:
        """Compare the database with the vector index for one agent or all of a tenant's:
        missing, stale and orphan vectors; `repair` fixes them (rows are indexed again)."""
        with self._read() as session:
            if agent_id is not None:
                agents = [agents_.get(session, tenant, agent_id)]
            else:
                agents = list(session.exec(select(Agent).where(Agent.tenant_id == tenant)))
        doctor = Doctor(self.engine, self.services.searcher.index, self.services.embedders.get)
        findings = []
        for agent in agents:
            findings += doctor.examine(agent.id, agent.embedding, repair=repair)
            if repair:
                self.services.indexer.schedule(agent.id)
        return findings

    def retry_indexing(self, agent_id: str, *, tenant: str = DEFAULT_TENANT) -> int:
        """Index an agent's parked rows again; returns how many were parked."""
        self.get_agent(agent_id, tenant=tenant)
        return self.services.indexer.retry(agent_id)

    def context(
        self, agent_id: str, *, tenant: str = DEFAULT_TENANT, user_id: str | None = None
    ) -> window.Breakdown:
        """What fills the agent's context window now, with the facts section its newest user
        message brings in (for `user_id`, as a turn serving them would)."""
        with self._read() as session:
            agent = agents_.get(session, tenant, agent_id)
            offered = self.custom_tools.registry(agent_id, self.services.tools)  # as a turn would
            tool_tokens = self.services.counter.tools(agent.model, offered.schemas())
            shown = window.breakdown(session, agent, self.services.counter, tool_tokens)
            newest = messages_.newest_user_text(session, agent_id)
        if agent.memory != MemoryMode.AUTO or not newest:
            return shown
        section = facts_context.build(self.facts, self.services.counter, agent, newest, user_id)
        if section is None:
            return shown
        return replace(
            shown, facts=section.tokens, facts_text=section.text, total=shown.total + section.tokens
        )


def _as_input(message: dict[str, str] | tuple[str, str] | str) -> tuple[str, str]:
    if isinstance(message, str):
        return ("user", message)
    if isinstance(message, tuple):
        return message
    if not isinstance(message, dict) or not isinstance(message.get("content"), str):
        raise InvalidInput("each message needs a string 'content'", field="messages")
    return (str(message.get("role", "user")), message["content"])
