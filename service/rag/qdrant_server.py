"""A Qdrant server or cluster (QDRANT_URL) through qdrant-client's AsyncQdrantClient.

The collection's logical name is an alias of its current generation (``<name>-<stamp>``);
reindex fills a new generation and moves the alias in one call. A collection made before
aliases (a real collection under the logical name) is served as it is, and replaced by the
first reindex. The layout is kept in the collection's metadata.

``QDRANT_URL=:memory:`` runs qdrant-client's in-memory stand-in for a server: the tests use
it to exercise this adapter; production uses a server.
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
from .vectors import (
    DENSE,
    INDEXED_FIELDS,
    SPARSE,
    UPSERT_BATCH,
    ChunkPoint,
    Hit,
    Layout,
    LayoutMismatch,
    VectorStore,
    dense_size,
    generation_stamp,
    readable_owners,
    stored_pair,
)

__all__ = ["ServerVectorStore", "open_client"]

IN_MEMORY = ":memory:"
_LAYOUT_KEY = "chathistory_layout"


def open_client(url: str, api_key: str | None) -> AsyncQdrantClient:
    if url == IN_MEMORY:
        return AsyncQdrantClient(location=IN_MEMORY)
    # No version check at start-up: it runs in a thread and only warns; /ready reports an
    # unreachable server instead.
    return AsyncQdrantClient(url=url, api_key=api_key, check_compatibility=False)


class ServerVectorStore:
    """One collection on a Qdrant server: its alias, or a generation being built."""

    def __init__(
        self,
        client: AsyncQdrantClient,
        collection: str,
        *,
        layout: Layout,
        dense: Embeddings | None = None,
        target: str | None = None,
        owns_client: bool = True,
    ) -> None:
        # The in-memory stand-in has no payload indexes, and warns when asked for one.
        self._payload_indexes = client.init_options.get("location") != IN_MEMORY
        self.client = client
        self._collection = collection
        self.layout = layout
        self.dense = dense
        self._target = target or collection  # what requests name: the alias, or a generation
        self._owns_client = owns_client
        self._opened = False
        self._opening = asyncio.Lock()

    @property
    def collection(self) -> str:
        return self._collection

    async def open(self, *, check_layout: bool = True) -> None:
        if self._opened:
            return
        async with self._opening:
            if self._opened:
                return
            if await self.client.collection_exists(self._target):
                if check_layout:
                    found = await self._stored_layout(self._target)
                    if found != self.layout:
                        raise LayoutMismatch(self._collection, found, self.layout)
            elif self._target == self._collection:  # none yet: its first generation
                generation = _generation_name(self._collection)
                await self._create(generation)
                await self._point_alias(generation, previous=None)
            else:
                await self._create(self._target)
            self._opened = True

    async def _stored_layout(self, name: str) -> Layout:
        info = await self.client.get_collection(name)
        stored = (info.config.metadata or {}).get(_LAYOUT_KEY)
        if stored is not None:
            return msgspec.convert(stored, Layout)
        # Made before layouts were recorded (by the hand-written encoder this replaced).
        vectors = info.config.params.vectors
        dense = isinstance(vectors, dict) and DENSE in vectors
        return Layout(
            sparse_model="unknown (made before layouts were recorded)",
            dense_model="unknown" if dense else None,
        )

    async def _create(self, name: str) -> None:
        vectors: dict[str, qm.VectorParams] = {}
        if self.dense is not None:
            size = await dense_size(self.dense)
            vectors[DENSE] = qm.VectorParams(size=size, distance=qm.Distance.COSINE)
        await self.client.create_collection(
            name,
            vectors_config=vectors,
            sparse_vectors_config={SPARSE: qm.SparseVectorParams(modifier=qm.Modifier.IDF)},
            metadata={_LAYOUT_KEY: msgspec.to_builtins(self.layout)},
        )
        for field in INDEXED_FIELDS if self._payload_indexes else ():
            await self.client.create_payload_index(name, field, qm.PayloadSchemaType.KEYWORD)

    async def _point_alias(self, generation: str, *, previous: str | None) -> None:
        operations: list[Any] = []
        if previous is not None:
            operations.append(
                qm.DeleteAliasOperation(delete_alias=qm.DeleteAlias(alias_name=self._collection))
            )
        operations.append(
            qm.CreateAliasOperation(
                create_alias=qm.CreateAlias(collection_name=generation, alias_name=self._collection)
            )
        )
        await self.client.update_collection_aliases(operations)

    async def upsert(self, points: Sequence[ChunkPoint]) -> None:
        await self.open()
        for start in range(0, len(points), UPSERT_BATCH):
            # Built a batch at a time, so the event loop is never held for a whole document.
            structs = [
                qm.PointStruct(
                    id=str(point.point_id),
                    vector=_vectors(point.sparse, point.dense),
                    payload=point.payload,
                )
                for point in points[start : start + UPSERT_BATCH]
            ]
            await self.client.upsert(self._target, structs, wait=True)

    async def delete_document(self, document_id: uuid.UUID) -> None:
        await self.open()
        await self.client.delete(
            self._target, qm.FilterSelector(filter=_document_filter(document_id)), wait=True
        )

    async def delete_owner(self, owner_id: uuid.UUID) -> None:
        await self.open()
        await self.client.delete(
            self._target, qm.FilterSelector(filter=_owner_filter(owner_id)), wait=True
        )

    async def count_owner_points(self, owner_id: uuid.UUID) -> int:
        await self.open()
        counted = await self.client.count(
            self._target, count_filter=_owner_filter(owner_id), exact=True
        )
        return counted.count

    async def search(
        self,
        *,
        sparse: SparseVector,
        dense: list[float] | None,
        user_id: uuid.UUID | None,
        limit: int,
    ) -> list[Hit]:
        await self.open()
        readable = qm.Filter(
            must=[qm.FieldCondition(key="owner", match=qm.MatchAny(any=readable_owners(user_id)))]
        )
        sparse_query = qm.SparseVector(indices=sparse.indices, values=sparse.values)
        if dense is None:
            if not sparse.indices:
                return []
            result = await self.client.query_points(
                self._target,
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
                self._target,
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

    async def document_points(self, document_id: uuid.UUID) -> dict[uuid.UUID, dict[str, Any]]:
        await self.open()
        points, _ = await self.client.scroll(
            self._target, scroll_filter=_document_filter(document_id), limit=100_000
        )
        return {uuid.UUID(str(point.id)): point.payload or {} for point in points}

    async def stored_vectors(
        self, point_ids: Sequence[uuid.UUID]
    ) -> dict[uuid.UUID, tuple[SparseVector, list[float] | None]]:
        await self.open()
        records = await self.client.retrieve(
            self._target, [str(point_id) for point_id in point_ids], with_vectors=True
        )
        return {uuid.UUID(str(record.id)): stored_pair(record.vector) for record in records}

    async def check(self) -> None:
        await self.client.get_collections()

    async def begin_generation(self) -> ServerVectorStore:
        generation = ServerVectorStore(
            self.client,
            self._collection,
            layout=self.layout,
            dense=self.dense,
            target=_generation_name(self._collection),
            owns_client=False,
        )
        await generation.open()
        return generation

    async def switch_to(self, generation: VectorStore) -> None:
        assert isinstance(generation, ServerVectorStore), "a generation of this store"
        aliases = (await self.client.get_aliases()).aliases
        previous = next(
            (a.collection_name for a in aliases if a.alias_name == self._collection), None
        )
        if previous is None and await self.client.collection_exists(self._collection):
            # A real collection under the logical name (made before aliases): it must go
            # before the alias can take its name.
            await self.client.delete_collection(self._collection)
        await self._point_alias(generation._target, previous=previous)
        if previous is not None and previous != generation._target:
            await self.client.delete_collection(previous)
        self._opened = True

    async def discard(self, generation: VectorStore) -> None:
        assert isinstance(generation, ServerVectorStore), "a generation of this store"
        assert generation._target != self._collection, "not the current generation"
        await self.client.delete_collection(generation._target)

    async def close(self) -> None:
        if self._owns_client:
            await self.client.close()


def _vectors(sparse: SparseVector, dense: list[float] | None) -> dict[str, Any]:
    vectors: dict[str, Any] = {
        SPARSE: qm.SparseVector(indices=sparse.indices, values=sparse.values)
    }
    if dense is not None:
        vectors[DENSE] = dense
    return vectors


def _document_filter(document_id: uuid.UUID) -> qm.Filter:
    return qm.Filter(
        must=[qm.FieldCondition(key="document_id", match=qm.MatchValue(value=str(document_id)))]
    )


def _owner_filter(owner_id: uuid.UUID) -> qm.Filter:
    return qm.Filter(
        must=[qm.FieldCondition(key="owner", match=qm.MatchValue(value=str(owner_id)))]
    )


def _generation_name(collection: str) -> str:
    return f"{collection}-{generation_stamp()}"
