"""The vector store: one interface over the chunk collection, two engines behind it.

``edge.EdgeVectorStore`` runs Qdrant Edge (Qdrant's engine, in process, a shard directory
under QDRANT_PATH) and is the default; ``qdrant_server.ServerVectorStore`` talks to a Qdrant
server or cluster (QDRANT_URL) through qdrant-client. Both hold the same points: a sparse
lexical vector ("text", weighted by Qdrant's IDF modifier), a dense one ("dense") when a
dense embedder is configured, and a payload with what an answer needs without a database
read (text, title, URL, heading, page) and ``owner``: a user id, or "shared" for the shared
corpus. Every search filters on the owner; ``owner`` and ``document_id`` are indexed.

A collection records the layout it was built with (``Layout``); opening it under settings
that ask for another is a ``LayoutMismatch``, resolved by ``python -m service reindex``,
which builds a new generation of the collection and switches to it when complete.
"""

from __future__ import annotations

import datetime
import uuid
from collections.abc import Sequence
from typing import Any, Protocol

import msgspec

from .providers import Embeddings
from .sparse import SparseVector

__all__ = [
    "DENSE",
    "SHARED",
    "SPARSE",
    "ChunkPoint",
    "Hit",
    "Layout",
    "LayoutMismatch",
    "VectorStore",
    "owner_key",
]

SPARSE = "text"
DENSE = "dense"
SHARED = "shared"  # the owner of the shared corpus in payloads
INDEXED_FIELDS = ("owner", "document_id")
UPSERT_BATCH = 128  # points per engine call: each call holds the GIL for a few ms at most


class ChunkPoint(msgspec.Struct, frozen=True, kw_only=True):
    point_id: uuid.UUID
    sparse: SparseVector
    dense: list[float] | None
    payload: dict[str, Any]


class Hit(msgspec.Struct, frozen=True, kw_only=True):
    point_id: uuid.UUID
    score: float
    payload: dict[str, Any]


class Layout(msgspec.Struct, frozen=True, kw_only=True):
    """What a collection's vectors are: which sparse model, and which dense one if any.

    Vectors built under one layout serve only settings that ask for an equal one.
    """

    sparse_model: str
    dense_model: str | None = None

    def describe(self) -> str:
        dense = "no dense vectors" if self.dense_model is None else f"dense {self.dense_model}"
        return f"{self.sparse_model}, {dense}"


class LayoutMismatch(Exception):
    """The collection was built with other vectors than the settings ask for."""

    def __init__(self, collection: str, found: Layout, wanted: Layout) -> None:
        super().__init__(
            f"the vector collection {collection!r} holds {found.describe()}, but the settings "
            f"ask for {wanted.describe()}: run `python -m service reindex` to rebuild it"
        )


def owner_key(owner_id: uuid.UUID | None) -> str:
    return SHARED if owner_id is None else str(owner_id)


async def dense_size(dense: Embeddings) -> int:
    """The dense embedder's dimension, asked once when a collection is created."""
    return len((await dense.embed(["dimension probe"]))[0])


def stored_pair(vectors: object) -> tuple[SparseVector, list[float] | None]:
    """A point's named vectors, as either engine returns them, as (sparse, dense)."""
    named = vectors if isinstance(vectors, dict) else {}
    sparse, dense = named.get(SPARSE), named.get(DENSE)
    return (
        SparseVector(
            indices=list(getattr(sparse, "indices", [])),
            values=list(getattr(sparse, "values", [])),
        ),
        [float(x) for x in dense] if isinstance(dense, list) else None,
    )


def generation_stamp() -> str:
    """A new generation's name: its creation time, then a random tail."""
    stamp = datetime.datetime.now(datetime.UTC).strftime("%Y%m%dT%H%M%S")
    return f"{stamp}-{uuid.uuid4().hex[:6]}"


def readable_owners(user_id: uuid.UUID | None) -> list[str]:
    """The owners whose points a user may read: their own and the shared corpus."""
    return [SHARED] if user_id is None else [SHARED, str(user_id)]


class VectorStore(Protocol):
    """The chunk collection, whichever engine holds it."""

    @property
    def collection(self) -> str:
        """The collection's logical name, as recorded on documents."""
        ...

    async def open(self, *, check_layout: bool = True) -> None:
        """Open the current generation, creating it when there is none (idempotent).

        Raises LayoutMismatch when it was built with another layout than the settings ask
        for, unless told not to check (reindex, which replaces it).
        """
        ...

    async def upsert(self, points: Sequence[ChunkPoint]) -> None:
        """Write the points (in bounded batches) and return once they are searchable."""
        ...

    async def delete_document(self, document_id: uuid.UUID) -> None:
        """Every point of a document, by its indexed ``document_id`` payload."""
        ...

    async def delete_owner(self, owner_id: uuid.UUID) -> None:
        """Every point of one owner (an erased user), by its indexed ``owner`` payload."""
        ...

    async def count_owner_points(self, owner_id: uuid.UUID) -> int:
        """How many points name this owner (erasure checks, tests)."""
        ...

    async def search(
        self,
        *,
        sparse: SparseVector,
        dense: list[float] | None,
        user_id: uuid.UUID | None,
        limit: int,
    ) -> list[Hit]:
        """The best points the user may read; with a dense vector, both searches fused (RRF)."""
        ...

    async def document_points(self, document_id: uuid.UUID) -> dict[uuid.UUID, dict[str, Any]]:
        """The points of one document: id -> payload."""
        ...

    async def stored_vectors(
        self, point_ids: Sequence[uuid.UUID]
    ) -> dict[uuid.UUID, tuple[SparseVector, list[float] | None]]:
        """The (sparse, dense) vectors stored for the points, for inspection."""
        ...

    async def check(self) -> None:
        """Raise unless the engine answers (readiness)."""
        ...

    async def begin_generation(self) -> VectorStore:
        """A new, empty generation of the collection, written beside the current one."""
        ...

    async def switch_to(self, generation: VectorStore) -> None:
        """Make ``generation`` (from begin_generation, now complete) the current one and
        drop the previous one."""
        ...

    async def discard(self, generation: VectorStore) -> None:
        """Drop an unfinished generation (from begin_generation); the current one stays."""
        ...

    async def close(self) -> None: ...
