"""The embedded engine: Qdrant Edge (qdrant-edge-py), Qdrant's engine running in this process.

Under QDRANT_PATH each collection has generations, one shard directory each
(``<collection>/<generation>/``, its layout beside it as ``<generation>.json``), and a
``<collection>.current`` file naming the one in use; reindex writes a new generation and
switches by replacing that file.

One process owns the directory: it holds an exclusive lock on ``owner.lock`` (released by
the kernel when the process dies), and ``open`` in another process raises EngineBusy, which
callers answer by enqueueing work for the owner instead.

The engine's calls hold the GIL while they run, so they go to one dedicated thread, in
bounded batches (UPSERT_BATCH points per write): the event loop waits at most a few
milliseconds for any one call, and calls on the shard never overlap.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import shutil
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar, cast

import msgspec
import qdrant_edge as qe

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

__all__ = ["EdgeVectorStore", "EngineBusy"]

T = TypeVar("T")


class EngineBusy(Exception):
    """Another process owns the embedded engine's directory."""


class _Owner:
    """The exclusive lock on a QDRANT_PATH directory, held for the process's lifetime."""

    def __init__(self, root: Path) -> None:
        root.mkdir(parents=True, exist_ok=True)
        self.path = root / "owner.lock"
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 64).decode(errors="replace").strip() or "another process"
            os.close(fd)
            raise EngineBusy(
                f"the embedded Qdrant at {root} is in use by process {holder}"
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        self._fd: int | None = fd

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the descriptor releases the lock
            self._fd = None


class _Engine:
    """A dedicated thread for the shard's calls, shared by its generations."""

    def __init__(self, root: Path) -> None:
        self.owner = _Owner(root)
        self.thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="qdrant-edge")

    async def run(self, call: Callable[[], T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(self.thread, call)

    def close(self) -> None:
        self.thread.shutdown(wait=True)
        self.owner.release()


class EdgeVectorStore:
    """One collection of the embedded engine (its current generation, or a new one)."""

    def __init__(
        self,
        root: str | Path,
        collection: str,
        *,
        layout: Layout,
        dense: Embeddings | None = None,
        generation: str | None = None,
        engine: _Engine | None = None,
    ) -> None:
        self.root = Path(root)
        self._collection = collection
        self.layout = layout
        self.dense = dense
        self._generation = generation
        self._engine = engine
        self._owns_engine = engine is None
        self._shard: qe.EdgeShard | None = None
        self._opening = asyncio.Lock()

    @property
    def collection(self) -> str:
        return self._collection

    @property
    def _current_file(self) -> Path:
        return self.root / f"{self._collection}.current"

    def _shard_dir(self, generation: str) -> Path:
        return self.root / self._collection / generation

    async def open(self, *, check_layout: bool = True) -> None:
        if self._shard is not None:  # every engine call comes here: no lock once open
            return
        async with self._opening:
            if self._shard is not None:
                return
            if self._engine is None:
                self._engine = _Engine(self.root)
            try:
                await self._open_shard(check_layout)
            except BaseException:
                await self.close()
                raise

    async def _open_shard(self, check_layout: bool) -> None:
        assert self._engine is not None
        if self._generation is None and self._current_file.exists():
            self._generation = self._current_file.read_text().strip()
        if self._generation is not None and self._shard_dir(self._generation).is_dir():
            found = msgspec.json.decode(
                (self.root / self._collection / f"{self._generation}.json").read_bytes(),
                type=Layout,
            )
            if check_layout and found != self.layout:
                raise LayoutMismatch(self._collection, found, self.layout)
            path = str(self._shard_dir(self._generation))
            self._shard = await self._engine.run(lambda: qe.EdgeShard.load(path))
            return
        fresh = self._generation is None
        self._generation = self._generation or generation_stamp()
        await self._create()
        if fresh:  # the first generation of this collection becomes the current one
            _write_atomically(self._current_file, self._generation)

    async def _create(self) -> None:
        assert self._engine is not None
        assert self._generation is not None
        vectors: dict[str, qe.EdgeVectorParams] = {}
        if self.dense is not None:
            size = await dense_size(self.dense)
            vectors[DENSE] = qe.EdgeVectorParams(size=size, distance=qe.Distance.Cosine)
        config = qe.EdgeConfig(
            vectors=vectors,
            sparse_vectors={SPARSE: qe.EdgeSparseVectorParams(modifier=qe.Modifier.Idf)},
        )
        path = self._shard_dir(self._generation)
        path.parent.mkdir(parents=True, exist_ok=True)
        (path.parent / f"{self._generation}.json").write_bytes(msgspec.json.encode(self.layout))

        def create() -> qe.EdgeShard:
            shard = qe.EdgeShard.create(str(path), config)
            for field in INDEXED_FIELDS:
                shard.update(
                    qe.UpdateOperation.create_field_index(field, qe.PayloadSchemaType.Keyword)
                )
            return shard

        self._shard = await self._engine.run(create)

    async def _call(self, work: Callable[[qe.EdgeShard], T]) -> T:
        await self.open()
        shard, engine = self._shard, self._engine
        assert shard is not None
        assert engine is not None
        return await engine.run(lambda: work(shard))

    async def upsert(self, points: Sequence[ChunkPoint]) -> None:
        for start in range(0, len(points), UPSERT_BATCH):
            await self._call(_upsert(points[start : start + UPSERT_BATCH]))

    async def delete_document(self, document_id: uuid.UUID) -> None:
        operation = qe.UpdateOperation.delete_points_by_filter(_document_filter(document_id))
        await self._call(_apply(operation))

    async def delete_owner(self, owner_id: uuid.UUID) -> None:
        operation = qe.UpdateOperation.delete_points_by_filter(_owner_filter(owner_id))
        await self._call(_apply(operation))

    async def count_owner_points(self, owner_id: uuid.UUID) -> int:
        request = qe.CountRequest(exact=True, filter=_owner_filter(owner_id))
        return int(await self._call(lambda shard: shard.count(request)))

    async def search(
        self,
        *,
        sparse: SparseVector,
        dense: list[float] | None,
        user_id: uuid.UUID | None,
        limit: int,
    ) -> list[Hit]:
        readable = qe.Filter(
            must=[qe.FieldCondition(key="owner", match=qe.MatchAny(any=readable_owners(user_id)))]
        )
        sparse_query = qe.Query.Nearest(
            qe.SparseVector(indices=sparse.indices, values=sparse.values), using=SPARSE
        )
        if dense is None:
            if not sparse.indices:
                return []
            request = qe.QueryRequest(
                limit=limit, query=sparse_query, filter=readable, with_payload=True
            )
        else:
            prefetches = [
                qe.Prefetch(
                    limit=limit * 4, query=qe.Query.Nearest(dense, using=DENSE), filter=readable
                )
            ]
            if sparse.indices:
                prefetches.append(qe.Prefetch(limit=limit * 4, query=sparse_query, filter=readable))
            request = qe.QueryRequest(
                limit=limit,
                # Qdrant server's default k, so both engines rank alike. The cast: the stub
                # does not declare Rrf a Fusion, the engine accepts it.
                query=cast(qe.Fusion, qe.Fusion.Rrf(k=2)),
                prefetches=prefetches,
                filter=readable,
                with_payload=True,
            )
        found = await self._call(lambda shard: shard.query(request))
        return [
            Hit(point_id=_uuid(point.id), score=point.score, payload=point.payload or {})
            for point in found
        ]

    async def document_points(self, document_id: uuid.UUID) -> dict[uuid.UUID, dict[str, Any]]:
        request = qe.ScrollRequest(
            limit=100_000, filter=_document_filter(document_id), with_payload=True
        )
        records, _ = await self._call(lambda shard: shard.scroll(request))
        return {_uuid(record.id): record.payload or {} for record in records}

    async def stored_vectors(
        self, point_ids: Sequence[uuid.UUID]
    ) -> dict[uuid.UUID, tuple[SparseVector, list[float] | None]]:
        ids: list[qe.PointId] = list(point_ids)
        records = await self._call(lambda shard: shard.retrieve(ids, False, True))
        return {_uuid(record.id): stored_pair(record.vector) for record in records}

    async def check(self) -> None:
        await self._call(lambda shard: shard.info())

    async def begin_generation(self) -> EdgeVectorStore:
        await self.open(check_layout=False)
        generation = EdgeVectorStore(
            self.root,
            self._collection,
            layout=self.layout,
            dense=self.dense,
            generation=generation_stamp(),
            engine=self._engine,
        )
        await generation.open()
        return generation

    async def switch_to(self, generation: VectorStore) -> None:
        assert isinstance(generation, EdgeVectorStore), "a generation of this store"
        assert generation._generation is not None
        assert generation._shard is not None
        await generation._call(lambda shard: shard.flush())
        old_generation, old_shard = self._generation, self._shard
        _write_atomically(self._current_file, generation._generation)
        self._generation, self._shard = generation._generation, generation._shard
        generation._shard = None  # now this store's
        if old_shard is not None and self._engine is not None:
            await self._engine.run(old_shard.close)
        if old_generation is not None and old_generation != self._generation:
            self._remove_generation(old_generation)

    async def discard(self, generation: VectorStore) -> None:
        assert isinstance(generation, EdgeVectorStore), "a generation of this store"
        assert generation._generation is not None
        assert generation._generation != self._generation, "not the current generation"
        await generation.close()
        self._remove_generation(generation._generation)

    def _remove_generation(self, generation: str) -> None:
        shutil.rmtree(self._shard_dir(generation), ignore_errors=True)
        with contextlib.suppress(FileNotFoundError):
            (self.root / self._collection / f"{generation}.json").unlink()

    async def close(self) -> None:
        shard, self._shard = self._shard, None
        engine = self._engine
        if shard is not None and engine is not None:
            await engine.run(shard.flush)
            await engine.run(shard.close)
        if self._owns_engine and engine is not None:
            self._engine = None
            await asyncio.to_thread(engine.close)


def _upsert(points: Sequence[ChunkPoint]) -> Callable[[qe.EdgeShard], None]:
    """The upsert of the points, built on the engine's thread when it runs: for a large
    document, building the engine's points is itself hundreds of milliseconds."""

    def upsert(shard: qe.EdgeShard) -> None:
        engine_points = [
            qe.Point(p.point_id, _vectors(p.sparse, p.dense), p.payload) for p in points
        ]
        shard.update(qe.UpdateOperation.upsert_points(engine_points))

    return upsert


def _apply(operation: qe.UpdateOperation) -> Callable[[qe.EdgeShard], None]:
    return lambda shard: shard.update(operation)


def _vectors(sparse: SparseVector, dense: list[float] | None) -> dict[str, Any]:
    vectors: dict[str, Any] = {
        SPARSE: qe.SparseVector(indices=sparse.indices, values=sparse.values)
    }
    if dense is not None:
        vectors[DENSE] = dense
    return vectors


def _document_filter(document_id: uuid.UUID) -> qe.Filter:
    return qe.Filter(
        must=[qe.FieldCondition(key="document_id", match=qe.MatchValue(str(document_id)))]
    )


def _owner_filter(owner_id: uuid.UUID) -> qe.Filter:
    return qe.Filter(must=[qe.FieldCondition(key="owner", match=qe.MatchValue(str(owner_id)))])


def _uuid(point_id: object) -> uuid.UUID:
    return point_id if isinstance(point_id, uuid.UUID) else uuid.UUID(str(point_id))


def _write_atomically(path: Path, text: str) -> None:
    temporary = path.with_suffix(".tmp")
    temporary.write_text(text + "\n")
    with temporary.open("rb") as file:
        os.fsync(file.fileno())
    os.replace(temporary, path)
