"""The two searchable stores of an agent: archival passages and recall messages. `Runtime` holds
one of each (composed, sharing its services) and offers their methods as its own."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta

from sqlalchemy import update
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from agent_runtime.core.errors import InvalidInput, NotFound
from agent_runtime.core.specs import MessageInput, PassageInput
from agent_runtime.core.vocabulary import Origin
from agent_runtime.embedding import Embedder
from agent_runtime.memory import agents as agents_
from agent_runtime.memory import messages as messages_
from agent_runtime.memory import tags as tags_
from agent_runtime.memory.passages import audit, check_text
from agent_runtime.retrieval import parts
from agent_runtime.retrieval.corpus import PASSAGES
from agent_runtime.retrieval.vector_index import Space
from agent_runtime.storage.database import transaction
from agent_runtime.storage.tables import Agent, Message, Passage, utcnow
from agent_runtime.turns.services import Services
from memory_tools import Hit

DEFAULT_TENANT = "default"
MAX_PAGE = 1000  # the REST API caps pages at 500 and asks for one more to find the next


# History may come from a clock a little ahead of ours, not from next year.
IMPORT_CLOCK_SKEW = timedelta(days=1)


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def page(limit: int) -> int:
    if not 1 <= limit <= MAX_PAGE:
        raise InvalidInput(f"limit must be 1 to {MAX_PAGE}", field="limit")
    return limit


class _Store:
    def __init__(self, services: Services) -> None:
        self.services = services

    @property
    def engine(self) -> Engine:
        return self.services.engine

    def _read(self) -> Session:
        return Session(self.services.engine, expire_on_commit=False)

    def _search(
        self,
        agent_id: str,
        tenant: str,
        query: str,
        run: Callable[[Session, Embedder], tuple[list[Hit], int]],
    ) -> tuple[list[Hit], int]:
        """One search in a transaction of its own (it may index the agent's pending rows)."""
        if not query.strip():
            raise InvalidInput("query is empty", field="query")
        with transaction(self.engine) as session:
            agent = agents_.get(session, tenant, agent_id)
            return run(session, self.services.embedders.get(agent.embedding))


class ArchivalMemory(_Store):
    def insert_passage(
        self,
        agent_id: str,
        text: str,
        *,
        tags: Sequence[str] = (),
        created_at: datetime | None = None,
        tenant: str = DEFAULT_TENANT,
        origin: Origin = Origin.USER,
        expires_at: datetime | None = None,
    ) -> Passage:
        check_text(text)
        clean_tags = tags_.clean(tags)
        with transaction(self.engine) as session:
            agent = agents_.get(session, tenant, agent_id)
            passage = Passage(agent_id=agent_id, text=text, tags=clean_tags, origin=origin)
            if created_at is not None:
                passage.created_at = _aware(created_at)
            if expires_at is not None:
                passage.expires_at = _aware(expires_at)
            session.add(passage)
            session.flush()
            audit(session, passage, "inserted", "api")
            agent.passage_count += 1
            session.add(agent)
        self.services.indexer.schedule(agent_id)
        return passage

    def insert_passages(
        self,
        agent_id: str,
        items: Sequence[PassageInput],
        *,
        tenant: str = DEFAULT_TENANT,
        origin: Origin = Origin.USER,
    ) -> int:
        """Bulk insert in one transaction, then one indexing pass. `origin="paged"` files them as
        paging does (conversation turns in order, each with the turn before as its prior)."""
        added: list[Passage] = []
        with transaction(self.engine) as session:
            agent = agents_.get(session, tenant, agent_id)
            for item in items:
                check_text(item.text)
                passage = Passage(
                    agent_id=agent_id,
                    text=item.text,
                    prior=item.prior,
                    tags=tags_.clean(item.tags),
                    origin=origin,
                )
                if item.created_at is not None:
                    passage.created_at = _aware(item.created_at)
                if item.expires_at is not None:
                    passage.expires_at = _aware(item.expires_at)
                session.add(passage)
                added.append(passage)
            session.flush()
            for passage in added:
                audit(session, passage, "inserted", "api")
            agent.passage_count += len(items)
            session.add(agent)
        self.services.indexer.schedule(agent_id)
        return len(items)

    def passages(
        self,
        agent_id: str,
        *,
        tenant: str = DEFAULT_TENANT,
        limit: int = 50,
        after: int | None = None,
    ) -> list[Passage]:
        with self._read() as session:
            agents_.get(session, tenant, agent_id)
            query = select(Passage).where(Passage.agent_id == agent_id)
            if after is not None:
                query = query.where(col(Passage.id) > after)
            return list(session.exec(query.order_by(col(Passage.id)).limit(page(limit))))

    def search_archival(
        self,
        agent_id: str,
        query: str,
        *,
        tenant: str = DEFAULT_TENANT,
        tags: Sequence[str] = (),
        start: datetime | None = None,
        end: datetime | None = None,
        limit: int = 10,
        offset: int = 0,
    ) -> tuple[list[Hit], int]:
        return self._search(
            agent_id,
            tenant,
            query,
            lambda session, embedder: self.services.searcher.passages(
                session,
                embedder,
                agent_id,
                query,
                tags=list(tags),
                start=start,
                end=end,
                limit=page(limit),
                offset=offset,
            ),
        )

    def delete_passage(
        self, agent_id: str, passage_id: int, *, tenant: str = DEFAULT_TENANT
    ) -> None:
        with transaction(self.engine) as session:
            agent = agents_.get(session, tenant, agent_id)
            passage = session.get(Passage, passage_id)
            if passage is None or passage.agent_id != agent_id:
                raise NotFound(f"passage {passage_id} not found")
            audit(session, passage, "deleted", "api")
            session.delete(passage)
            session.flush()  # the passage's row before the agent's, the order a step takes
            agent.passage_count = max(agent.passage_count - 1, 0)
            session.add(agent)
            embedding = agent.embedding
        embedder = self.services.embedders.get(embedding)
        space = Space.of(embedder, agent_id, PASSAGES.name)
        # every vector the row can have, whatever its text is now
        every = parts.every_id(PASSAGES.prefix, passage_id)
        self.services.searcher.index.delete(space, every)


class RecallMemory(_Store):
    def messages(
        self,
        agent_id: str,
        *,
        tenant: str = DEFAULT_TENANT,
        limit: int = 50,
        before: int | None = None,
        after: int | None = None,
    ) -> list[Message]:
        with self._read() as session:
            agents_.get(session, tenant, agent_id)
            return messages_.history(
                session, agent_id, limit=page(limit), before=before, after=after
            )

    def import_messages(
        self, agent_id: str, items: Sequence[MessageInput], *, tenant: str = DEFAULT_TENANT
    ) -> int:
        """Bring earlier history (another system's, a chat export) into recall memory, in order
        and with its own times, so `conversation_search` finds it; the context window is left as
        it is. All or nothing: one bad message rejects the call."""
        if len(items) > messages_.MAX_IMPORT:
            raise InvalidInput(
                f"at most {messages_.MAX_IMPORT} messages per import", field="messages"
            )
        latest = utcnow() + IMPORT_CLOCK_SKEW
        for i, item in enumerate(items):
            try:
                messages_.check_input(item.role, item.content, messages_.IMPORT_ROLES)
                if item.created_at is not None and _aware(item.created_at) > latest:
                    raise InvalidInput(
                        "created_at is in the future; history is what was already said",
                        field="created_at",
                    )
            except InvalidInput as exc:
                raise InvalidInput(
                    f"messages[{i}]: {exc.message}", field=f"messages[{i}].{exc.field}"
                ) from exc
        turn_id = f"import-{uuid.uuid4().hex[:12]}"
        rows = [
            Message(
                agent_id=agent_id,
                turn_id=turn_id,
                role=item.role,
                content=item.content,
                in_context=False,
                created_at=_aware(item.created_at) if item.created_at else utcnow(),
            )
            for item in items
        ]
        messages_.chain(rows, "")  # imported history is its own conversation
        with transaction(self.engine) as session:
            agents_.get(session, tenant, agent_id)
            session.add_all(rows)
            # An expression, not read-modify-write: a turn may be adding messages meanwhile.
            session.exec(
                update(Agent)
                .where(col(Agent.id) == agent_id)
                .values(message_count=col(Agent.message_count) + len(items))
            )
        self.services.indexer.schedule(agent_id)
        return len(items)

    def search_recall(
        self,
        agent_id: str,
        query: str,
        *,
        tenant: str = DEFAULT_TENANT,
        roles: Sequence[str] = (),
        start: datetime | None = None,
        end: datetime | None = None,
        limit: int = 10,
        offset: int = 0,
    ) -> tuple[list[Hit], int]:
        return self._search(
            agent_id,
            tenant,
            query,
            lambda session, embedder: self.services.searcher.messages(
                session,
                embedder,
                agent_id,
                query,
                roles=list(roles),
                start=start,
                end=end,
                limit=page(limit),
                offset=offset,
            ),
        )
