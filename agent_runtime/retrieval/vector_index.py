"""The vector seam: a `VectorIndex` protocol, chromadb behind it, and an in-memory fake.

This is the only module that imports chromadb. A query's filter is our own `VectorFilter`;
`ChromaIndex` turns it into Chroma's `where` language, and the fake applies it directly.
"""

from __future__ import annotations

import contextlib
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


def collection_name(embedder: Embedder, agent_id: str, kind: str) -> str:
    """One collection per agent, kind and embedder: searches need no agent filter, which in
    Chroma would mean a scan over every row's metadata."""
    slug = "".join(c if c.isalnum() else "-" for c in embedder.name).strip("-")
    return f"r-{agent_id}-{kind}-{slug}-{embedder.dimension}"


@dataclass(frozen=True)
class VectorFilter:
    """Which vectors a query may return: those of rows from `start` to `end` (seconds since
    1970, inclusive) and, if `roles` is given, of rows with one of those roles."""

    start: int | None = None
    end: int | None = None
    roles: tuple[str, ...] = ()

    def admits(self, meta: Metadata) -> bool:
        at = meta.get("ts")
        if self.start is not None and not (isinstance(at, int) and at >= self.start):
            return False
        if self.end is not None and not (isinstance(at, int) and at <= self.end):
            return False
        return not self.roles or meta.get("role") in self.roles


@dataclass(frozen=True)
class VectorHit:
    id: str
    distance: float  # cosine distance: 0 is identical


class VectorIndex(Protocol):
    def upsert(
        self, collection: str, ids: list[str], vectors: np.ndarray, metadatas: list[Metadata]
    ) -> None: ...

    def query(
        self, collection: str, vector: np.ndarray, k: int, only: VectorFilter | None = None
    ) -> list[VectorHit]: ...

    def delete(self, collection: str, ids: list[str]) -> None: ...

    def ids(self, collection: str) -> list[str]:
        """Every vector id in a collection (for `doctor`); a missing collection has none."""
        ...

    def drop(self, collection: str) -> None:
        """Remove a whole collection; a missing one is fine."""
        ...

    def healthy(self) -> bool:
        """Whether the index answers at all (a failed write may be one collection's fault)."""
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

    def _collection(self, name: str) -> Any:
        with self._lock:
            if name not in self._collections:
                self._collections[name] = self._client.get_or_create_collection(
                    name, metadata={"hnsw:space": "cosine"}, embedding_function=None
                )
            return self._collections[name]

    def upsert(
        self, collection: str, ids: list[str], vectors: np.ndarray, metadatas: list[Metadata]
    ) -> None:
        if not ids:
            return
        try:
            self._collection(collection).upsert(
                ids=ids, embeddings=np.asarray(vectors, dtype=np.float32), metadatas=metadatas
            )
        except Exception as exc:
            raise RecalldError(f"vector store write failed: {exc}") from exc

    def query(
        self, collection: str, vector: np.ndarray, k: int, only: VectorFilter | None = None
    ) -> list[VectorHit]:
        try:
            result = self._collection(collection).query(
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

    def delete(self, collection: str, ids: list[str]) -> None:
        if not ids:
            return
        try:
            self._collection(collection).delete(ids=ids)
        except Exception as exc:
            raise RecalldError(f"vector store delete failed: {exc}") from exc

    def ids(self, collection: str) -> list[str]:
        try:
            found = self._client.get_collection(collection)
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

    def drop(self, collection: str) -> None:
        with self._lock:
            self._collections.pop(collection, None)
        # chromadb raises an error of its own for a missing collection; that is fine here
        with contextlib.suppress(Exception):
            self._client.delete_collection(collection)


class MemoryIndex:
    """Brute-force cosine search in numpy; the fake for tests and a reference for the filters."""

    def __init__(self) -> None:
        self._rows: dict[str, dict[str, tuple[np.ndarray, Metadata]]] = {}
        self._lock = threading.Lock()

    def upsert(
        self, collection: str, ids: list[str], vectors: np.ndarray, metadatas: list[Metadata]
    ) -> None:
        with self._lock:
            rows = self._rows.setdefault(collection, {})
            for id_, vector, meta in zip(ids, vectors, metadatas, strict=True):
                rows[id_] = (np.asarray(vector, dtype=np.float32), dict(meta))

    def query(
        self, collection: str, vector: np.ndarray, k: int, only: VectorFilter | None = None
    ) -> list[VectorHit]:
        with self._lock:
            rows = [
                (i, v)
                for i, (v, m) in self._rows.get(collection, {}).items()
                if only is None or only.admits(m)
            ]
        if not rows:
            return []
        matrix = np.stack([v for _, v in rows])
        distances = 1.0 - matrix @ np.asarray(vector, dtype=np.float32)
        order = np.argsort(distances, kind="stable")[:k]
        return [VectorHit(rows[i][0], float(distances[i])) for i in order]

    def delete(self, collection: str, ids: list[str]) -> None:
        with self._lock:
            rows = self._rows.get(collection, {})
            for id_ in ids:
                rows.pop(id_, None)

    def drop(self, collection: str) -> None:
        with self._lock:
            self._rows.pop(collection, None)

    def collections(self) -> list[str]:
        return list(self._rows)

    def ids(self, collection: str) -> list[str]:
        with self._lock:
            return list(self._rows.get(collection, {}))

    def healthy(self) -> bool:
        return True

    def metadata_keys(self, collection: str) -> set[str]:
        """Every metadata key stored in a collection (tests check that tags never become keys)."""
        with self._lock:
            return {k for _v, m in self._rows.get(collection, {}).values() for k in m}


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
    if not clauses:
        return None
    return clauses[0] if len(clauses) == 1 else {"$and": clauses}
