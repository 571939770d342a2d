"""Keeps the vector index in step with the database, which is the source of truth.

Rows are written with `indexed = False` inside a step's transaction; after the commit they are
embedded and upserted (idempotent), then marked. A crash in between is repaired by `sweep()`.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import update
from sqlalchemy.engine import Engine
from sqlmodel import col, select

from agent_runtime.embedding import Embedder
from agent_runtime.messages import as_text
from agent_runtime.search import collection_name, epoch
from agent_runtime.storage.database import transaction
from agent_runtime.storage.tables import Agent, Message, Passage
from agent_runtime.vector_index import Metadata, VectorIndex

BATCH = 256


class Indexer:
    def __init__(
        self, engine: Engine, index: VectorIndex, embedder_for: Callable[[str], Embedder]
    ) -> None:
        self.engine = engine
        self.index = index
        self.embedder_for = embedder_for

    def index_agent(self, agent_id: str) -> int:
        """Embed and upsert every pending row of one agent; returns how many were indexed."""
        done = 0
        while True:
            with transaction(self.engine) as session:
                agent = session.get(Agent, agent_id)
                if agent is None:
                    return done
                passages = list(
                    session.exec(
                        select(Passage)
                        .where(col(Passage.indexed).is_(False), Passage.agent_id == agent_id)
                        .limit(BATCH)
                    )
                )
                messages = list(
                    session.exec(
                        select(Message)
                        .where(col(Message.indexed).is_(False), Message.agent_id == agent_id)
                        .limit(BATCH)
                    )
                )
                embedding = agent.embedding
            if not passages and not messages:
                return done
            embedder = self.embedder_for(embedding)
            ids: list[str] = []
            texts: list[str] = []
            metas: list[Metadata] = []
            for p in passages:
                meta: Metadata = {
                    "agent_id": agent_id,
                    "kind": "passage",
                    "ts": epoch(p.created_at),
                }
                meta.update({f"tag:{t}": True for t in p.tags})
                ids.append(f"p:{p.id}")
                texts.append(p.text)
                metas.append(meta)
            for m in messages:
                if m.role == "tool" or not (m.content or m.tool_calls):
                    continue
                ids.append(f"m:{m.id}")
                texts.append(as_text(m))
                metas.append(
                    {
                        "agent_id": agent_id,
                        "kind": "message",
                        "role": m.role,
                        "ts": epoch(m.created_at),
                    }
                )
            if texts:
                self.index.upsert(collection_name(embedder), ids, embedder.embed(texts), metas)
            with transaction(self.engine) as session:
                if passages:
                    session.exec(
                        update(Passage)
                        .where(col(Passage.id).in_([p.id for p in passages]))
                        .values(indexed=True)
                    )
                if messages:
                    session.exec(
                        update(Message)
                        .where(col(Message.id).in_([m.id for m in messages]))
                        .values(indexed=True)
                    )
            done += len(texts)

    def sweep(self) -> int:
        """Index whatever a crash left pending, for every agent."""
        with transaction(self.engine) as session:
            agents = set(
                session.exec(
                    select(Passage.agent_id).where(col(Passage.indexed).is_(False)).distinct()
                )
            ) | set(
                session.exec(
                    select(Message.agent_id).where(col(Message.indexed).is_(False)).distinct()
                )
            )
        return sum(self.index_agent(a) for a in sorted(agents))
