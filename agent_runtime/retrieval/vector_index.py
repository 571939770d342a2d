"""The vector seam: a `VectorIndex` protocol, chromadb behind it, and an in-memory fake.

This is the only module that imports chromadb. A query's filter is our own `VectorFilter`;
`ChromaIndex` turns it into Chroma's `where` language, and the fake applies it directly.
"""

from __future__ import annotations

import contextlib
import hashlib
import threading
from calendar import timegm
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from agent_runtime.core.errors import ConfigurationError, RecalldError
from agent_runtime.embedding import Embedder

Metadata = dict[str, str | int | float | bool]


def epoch(moment: datetime) -> int:
    """Seconds since 1970 for an aware datetime, or a naive one taken as UTC."""
    return timegm(moment.utctimetuple())


@dataclass(frozen=True)
class Space:
    """Where the vectors of one owner's corpus live, for one embedder: an agent's passages or
    messages, a tenant's facts. Each has a collection of its own, so a search needs no owner
    filter (which in Chroma would scan every row's metadata), and dropping an agent drops its
    spaces."""

    owner: str  # an agent id, or for facts a tenant id
    corpus: str  # a `Corpus` name: passage, message, fact
    embedder: str
    dimension: int

    @classmethod
    def of(cls, embedder: Embedder, owner: str, corpus: str) -> Space:
        return cls(owner, corpus, embedder.name, embedder.dimension)


@dataclass(frozen=True)
class VectorFilter:
    """Which vectors a query may return: those of rows from `start` to `end` (seconds since
    1970, inclusive) and, if `roles` is given, of rows with one of those roles."""

    start: int | None = None
    end: int | None = None
    roles: tuple[str, ...] = ()
    # (metadata key, the values it may have): a vector must match each
    fields: tuple[tuple[str, tuple[str, ...]], ...] = ()

    def admits(self, meta: Metadata) -> bool:
        at = meta.get("ts")
        if self.start is not None and not (isinstance(at, int) and at >= self.start):
            return False
        if self.end is not None and not (isinstance(at, int) and at <= self.end):
            return False
        if any(meta.get(key) not in values for key, values in self.fields):
            return False
        return not self.roles or meta.get("role") in self.roles


@dataclass(frozen=True)
class VectorHit:
    id: str
    distance: float  # cosine distance: 0 is identical


class VectorIndex(Protocol):
    def upsert(
        self, space: Space, ids: list[str], vectors: np.ndarray, metadatas: list[Metadata]
    ) -> None: ...

    def query(
        self, space: Space, vector: np.ndarray, k: int, only: VectorFilter | None = None
    ) -> list[VectorHit]: ...

    def delete(self, space: Space, ids: list[str]) -> None: ...

    def ids(self, space: Space) -> list[str]:
        """Every vector id in a space (for `doctor`); a space never written has none."""
        ...

    def drop(self, space: Space) -> None:
        """Remove a whole space; a missing one is fine."""
        ...

    def healthy(self) -> bool:
        """Whether the index answers at all (a failed write may be one space's fault)."""
        ...


class ChromaIndex:
    """Embedded `PersistentClient` under a folder, or a Chroma server by URL."""

    def __init__(self, path: Path | None = None, url: str | None = None) -> None:
        import chromadb
        from chromadb.config import Settings as ChromaSettings

        chroma_settings = ChromaSettings(anonymized_telemetry=False, allow_reset=False)
        try:
            if url:
                from urllib.parse import urlparse

                parsed = urlparse(url)
                self._client = chromadb.HttpClient(
                    host=parsed.hostname or "127.0.0.1",
                    port=parsed.port or 8000,
                    ssl=parsed.scheme == "https",
                    settings=chroma_settings,
                )
            else:
                assert path is not None
                path.mkdir(parents=True, exist_ok=True)
                self._client = chromadb.PersistentClient(path=str(path), settings=chroma_settings)
        except Exception as exc:
            raise ConfigurationError(f"cannot open the vector store: {exc}") from exc
        self._collections: dict[str, Any] = {}
        self._lock = threading.Lock()

    def _collection(self, space: Space) -> Any:
        name = _name(space)
        with self._lock:
            if name not in self._collections:
                self._collections[name] = self._client.get_or_create_collection(
                    name, metadata={"hnsw:space": "cosine"}, embedding_function=None
                )
            return self._collections[name]

    def upsert(
        self, space: Space, ids: list[str], vectors: np.ndarray, metadatas: list[Metadata]
    ) -> None:
        if not ids:
            return
        try:
            self._collection(space).upsert(
                ids=ids, embeddings=np.asarray(vectors, dtype=np.float32), metadatas=metadatas
            )
        except Exception as exc:
            raise RecalldError(f"vector store write failed: {exc}") from exc

    def query(
        self, space: Space, vector: np.ndarray, k: int, only: VectorFilter | None = None
    ) -> list[VectorHit]:
        try:
            result = self._collection(space).query(
                query_embeddings=[np.asarray(vector, dtype=np.float32)],
                n_results=k,
                where=_where(only),
                include=["distances"],
            )
        except Exception as exc:
            raise RecalldError(f"vector store query failed: {exc}") from exc
        ids = result["ids"][0] if result["ids"] else []
        distances = result["distances"][0] if result.get("distances") else [0.0] * len(ids)
        return [VectorHit(i, float(d)) for i, d in zip(ids, distances, strict=True)]

    def delete(self, space: Space, ids: list[str]) -> None:
        if not ids:
            return
        try:
            self._collection(space).delete(ids=ids)
        except Exception as exc:
            raise RecalldError(f"vector store delete failed: {exc}") from exc

    def ids(self, space: Space) -> list[str]:
        try:
            found = self._client.get_collection(_name(space))
        except Exception:  # chromadb's own error for a missing collection
            return []
        out: list[str] = []
        page = 10_000
        while True:
            batch = found.get(include=[], limit=page, offset=len(out))["ids"]
            out += batch
            if len(batch) < page:
                return out

    def healthy(self) -> bool:
        try:
            self._client.heartbeat()
        except Exception:
            return False
        return True

    def drop(self, space: Space) -> None:
        name = _name(space)
        with self._lock:
            self._collections.pop(name, None)
        # chromadb raises an error of its own for a missing collection; that is fine here
        with contextlib.suppress(Exception):
            self._client.delete_collection(name)


class MemoryIndex:
    """Brute-force cosine search in numpy; the fake for tests and a reference for the filters."""

    def __init__(self) -> None:
        self._rows: dict[Space, dict[str, tuple[np.ndarray, Metadata]]] = {}
        self._lock = threading.Lock()

    def upsert(
        self, space: Space, ids: list[str], vectors: np.ndarray, metadatas: list[Metadata]
    ) -> None:
        with self._lock:
            rows = self._rows.setdefault(space, {})
            for id_, vector, meta in zip(ids, vectors, metadatas, strict=True):
                rows[id_] = (np.asarray(vector, dtype=np.float32), dict(meta))

    def query(
        self, space: Space, vector: np.ndarray, k: int, only: VectorFilter | None = None
    ) -> list[VectorHit]:
        with self._lock:
            rows = [
                (i, v)
                for i, (v, m) in self._rows.get(space, {}).items()
                if only is None or only.admits(m)
            ]
        if not rows:
            return []
        matrix = np.stack([v for _, v in rows])
        distances = 1.0 - matrix @ np.asarray(vector, dtype=np.float32)
        order = np.argsort(distances, kind="stable")[:k]
        return [VectorHit(rows[i][0], float(distances[i])) for i in order]

    def delete(self, space: Space, ids: list[str]) -> None:
        with self._lock:
            rows = self._rows.get(space, {})
            for id_ in ids:
                rows.pop(id_, None)

    def drop(self, space: Space) -> None:
        with self._lock:
            self._rows.pop(space, None)

    def collections(self) -> list[Space]:
        return list(self._rows)

    def ids(self, space: Space) -> list[str]:
        with self._lock:
            return list(self._rows.get(space, {}))

    def healthy(self) -> bool:
        return True

    def metadata_keys(self, space: Space) -> set[str]:
        """Every metadata key stored in a space (tests check that tags never become keys)."""
        with self._lock:
            return {k for _v, m in self._rows.get(space, {}).values() for k in m}


def _name(space: Space) -> str:
    """A space's Chroma collection name (the scheme every stored collection already has)."""
    slug = "".join(c if c.isalnum() else "-" for c in space.embedder).strip("-")
    owner = space.owner
    if "." in owner:  # a tenant id may hold dots; Chroma refuses ".." in a name
        owner = "h" + hashlib.sha256(owner.encode()).hexdigest()[:24]
    return f"r-{owner}-{space.corpus}-{slug}-{space.dimension}"


def _where(only: VectorFilter | None) -> dict[str, Any] | None:
    """A `VectorFilter` in Chroma's `where` language."""
    if only is None:
        return None
    clauses: list[dict[str, Any]] = []
    if only.start is not None:
        clauses.append({"ts": {"$gte": only.start}})
    if only.end is not None:
        clauses.append({"ts": {"$lte": only.end}})
    if only.roles:
        clauses.append({"role": {"$in": list(only.roles)}})
    for key, values in only.fields:
        clauses.append({key: {"$in": list(values)}})
    if not clauses:
        return None
    return clauses[0] if len(clauses) == 1 else {"$and": clauses}
