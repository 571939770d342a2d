"""`AgentMemory`: the runtime's side of the memory tools, bound to one step's transaction."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session

from agent_runtime.core.errors import NotFound
from agent_runtime.core.specs import Scope
from agent_runtime.core.vocabulary import Origin
from agent_runtime.embedding import Embedder
from agent_runtime.facts.store import FactMemory, status_of
from agent_runtime.memory import blocks as blocks_
from agent_runtime.memory import messages as messages_
from agent_runtime.memory import tags as tags_
from agent_runtime.memory.passages import check_text
from agent_runtime.retrieval.search import Searcher
from agent_runtime.storage.tables import Agent, Block, Passage, utcnow
from memory_tools import Hit, ToolError
from memory_tools.memory import BlockView, FactView


class AgentMemory:
    def __init__(
        self,
        session: Session,
        agent: Agent,
        searcher: Searcher,
        embedder: Embedder,
        turn_start: int | None = None,
        *,
        facts: FactMemory | None = None,
        user_id: str | None = None,
    ) -> None:
        self.session = session
        self.facts = facts
        self.user_id = user_id  # whom the turn serves: the fact tool sees their facts only
        # The id of the first message of the turn this step belongs to: conversation_search
        # leaves the turn's own messages out (the question just asked is not an answer).
        self.turn_start = turn_start
        self.agent = agent
        self.searcher = searcher
        self.embedder = embedder
        self.changed = False
        self.changed_blocks: set[str] = set()
        self.inserted: list[Passage] = []  # for archival memory's audit trail

    def _block(self, label: str) -> Block:
        try:
            return blocks_.by_label(self.session, self.agent.id, label)
        except NotFound as exc:
            labels = [b.label for b in blocks_.of_agent(self.session, self.agent.id)]
            raise ToolError(f"no block {label!r}; blocks are {labels}") from exc

    def block(self, label: str) -> BlockView:
        b = self._block(label)
        return BlockView(label=b.label, value=b.value, limit=b.limit, read_only=b.read_only)

    def write_block(self, label: str, value: str) -> None:
        block = self._block(label)
        block.value = messages_.storable(value)
        block.updated_at = utcnow()
        self.session.add(block)
        self.changed_blocks.add(block.id)
        self._touch()

    def insert_passage(self, text: str, tags: list[str], created_at: datetime | None = None) -> int:
        text = messages_.storable(text)
        check_text(text)
        clean_tags = tags_.clean(messages_.storable(t) for t in tags)
        passage = Passage(agent_id=self.agent.id, text=text, tags=clean_tags, origin=Origin.AGENT)
        if created_at is not None:
            passage.created_at = created_at
        self.session.add(passage)
        self.session.flush()
        self.inserted.append(passage)
        self.agent.passage_count += 1
        self._touch()
        assert passage.id is not None
        return passage.id

    def _touch(self) -> None:
        self.changed = True
        self.agent.memory_edited_at = utcnow()

    def search_passages(
        self,
        query: str,
        tags: list[str],
        start: datetime | None,
        end: datetime | None,
        limit: int,
        offset: int,
    ) -> tuple[list[Hit], int]:
        return self.searcher.passages(
            self.session,
            self.embedder,
            self.agent.id,
            query,
            tags=tags,
            start=start,
            end=end,
            limit=limit,
            offset=offset,
        )

    def search_messages(
        self,
        query: str,
        roles: list[str],
        start: datetime | None,
        end: datetime | None,
        limit: int,
        offset: int,
    ) -> tuple[list[Hit], int]:
        return self.searcher.messages(
            self.session,
            self.embedder,
            self.agent.id,
            query,
            roles=roles,
            start=start,
            end=end,
            limit=limit,
            offset=offset,
            before_id=self.turn_start,
        )

    def search_facts(
        self, query: str, as_of: datetime | None, include_history: bool, limit: int
    ) -> list[FactView]:
        if self.facts is None:
            raise ToolError("fact memory is not available here")
        scope = Scope(user_id=self.user_id, agent_id=self.agent.id)
        hits = self.facts.search(
            self.agent.tenant_id,
            query,
            scope,
            as_of=as_of,
            include_history=include_history,
            limit=limit,
            exact_scope=True,
        )
        now = utcnow()
        return [
            FactView(h.fact.text, h.fact.valid_at, h.fact.invalid_at, status_of(h.fact, now))
            for h in hits
        ]
