"""The Qdrant collection of chunk vectors: created when absent, written, deleted, searched.

Every point carries a sparse lexical vector ("text", weighted by Qdrant's IDF modifier)
and, when a dense embedder is configured, a dense one ("dense"). The payload holds what an
answer needs without a database read (text, title, URL) and ``owner``: a user id, or
"shared" for the shared corpus; every search filters on it.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from typing import Any

import msgspec
from qdrant_client import AsyncQdrantClient
from qdrant_client import models as qm

from .providers import Embeddings
from .sparse import SparseVector

__all__ = ["DENSE", "SHARED", "SPARSE", "ChunkPoint", "Hit", "VectorStore"]

SPARSE = "text"
DENSE = "dense"
SHARED = "shared"  # the owner of the shared corpus in payloads


class ChunkPoint(msgspec.Struct, frozen=True, kw_only=True):
    point_id: uuid.UUID
    sparse: SparseVector
    dense: list[float] | None
    payload: dict[str, Any]


class Hit(msgspec.Struct, frozen=True, kw_only=True):
    point_id: uuid.UUID
    score: float
    payload: dict[str, Any]


def owner_key(owner_id: uuid.UUID | None) -> str:
    return SHARED if owner_id is None else str(owner_id)


class VectorStore:
    """One collection, with dense vectors too when a dense embedder is configured."""

    def __init__(
        self,
        client: AsyncQdrantClient,
        collection: str,
        *,
        dense: Embeddings | None,
        payload_indexes: bool,
    ) -> None:
        self.client = client
        self.collection = collection
        self.dense = dense
        # Local (embedded) Qdrant has no payload indexes and warns when asked for one.
        self.payload_indexes = payload_indexes
        self._ready = asyncio.Lock()
        self._created = False

    async def ensure_collection(self) -> None:
        """Create the collection (and its payload indexes) unless it exists."""
        if self._created:
            return
        async with self._ready:
            if self._created:
                return
            if not await self.client.collection_exists(self.collection):
                await self._create()
            self._created = True

    async def _create(self) -> None:
        dense = {}
        if self.dense is not None:
            # The dimension is the embedder's: ask it once.
            size = len((await self.dense.embed(["dimension probe"]))[0])
            dense = {DENSE: qm.VectorParams(size=size, distance=qm.Distance.COSINE)}
        await self.client.create_collection(
            self.collection,
            vectors_config=dense,
            sparse_vectors_config={SPARSE: qm.SparseVectorParams(modifier=qm.Modifier.IDF)},
        )
        if self.payload_indexes:
            for field in ("owner", "document_id"):
                await self.client.create_payload_index(
                    self.collection, field, qm.PayloadSchemaType.KEYWORD
                )

    async def upsert(self, points: Sequence[ChunkPoint]) -> None:
        """Write the points and wait until they are searchable."""
        await self.ensure_collection()
        structs = []
        for point in points:
            vector: dict[str, Any] = {
                SPARSE: qm.SparseVector(indices=point.sparse.indices, values=point.sparse.values)
            }
            if point.dense is not None:
                vector[DENSE] = point.dense
            structs.append(
                qm.PointStruct(id=str(point.point_id), vector=vector, payload=point.payload)
            )
        for start in range(0, len(structs), 256):
            await self.client.upsert(self.collection, structs[start : start + 256], wait=True)

    async def delete_document(self, document_id: uuid.UUID) -> None:
        """Every point of a document, whether or not the database recorded it."""
        await self.ensure_collection()
        selector = qm.FilterSelector(
            filter=qm.Filter(
                must=[
                    qm.FieldCondition(
                        key="document_id", match=qm.MatchValue(value=str(document_id))
                    )
                ]
            )
        )
        await self.client.delete(self.collection, selector, wait=True)

    async def search(
        self,
        *,
        sparse: SparseVector,
        dense: list[float] | None,
        user_id: uuid.UUID | None,
        limit: int,
    ) -> list[Hit]:
        """The best chunks the user may read (their own and the shared corpus).

        With a dense vector too, both searches run as prefetches fused by reciprocal rank.
        """
        await self.ensure_collection()
        owners = [SHARED] if user_id is None else [SHARED, str(user_id)]
        readable = qm.Filter(must=[qm.FieldCondition(key="owner", match=qm.MatchAny(any=owners))])
        sparse_query = qm.SparseVector(indices=sparse.indices, values=sparse.values)
        if dense is None:
            if not sparse.indices:
                return []
            result = await self.client.query_points(
                self.collection,
                query=sparse_query,
                using=SPARSE,
                query_filter=readable,
                limit=limit,
                with_payload=True,
            )
        else:
            prefetch = [qm.Prefetch(query=dense, using=DENSE, filter=readable, limit=limit * 4)]
            if sparse.indices:
                prefetch.append(
                    qm.Prefetch(query=sparse_query, using=SPARSE, filter=readable, limit=limit * 4)
                )
            result = await self.client.query_points(
                self.collection,
                prefetch=prefetch,
                query=qm.FusionQuery(fusion=qm.Fusion.RRF),
                query_filter=readable,
                limit=limit,
                with_payload=True,
            )
        return [
            Hit(point_id=uuid.UUID(str(point.id)), score=point.score, payload=point.payload or {})
            for point in result.points
        ]
