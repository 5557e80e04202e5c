"""Vector points made to match their documents after a claim moved or dropped them.

A claim (``store.claim_history``) changes documents' owners in PostgreSQL and queues, in the
same transaction, one ``document_owner_syncs`` job per document. This worker, in the process
that owns the vector store (beside the ingestion worker), takes the jobs one at a time
(``FOR UPDATE SKIP LOCKED``, so replicas share them) and makes the document's points say what
its row says: each point's ``owner`` payload rewritten, its vectors copied as stored (nothing
is read, chunked or embedded again), or every point deleted when the document is gone. Both
are idempotent, so a job is simply done again after a crash or a failure: a job held longer
than ``retry_seconds`` is taken over. A document still being ingested is left for later (its
worker may be writing points with the owner it read before the claim).

Until its job is done, a moved document's points are not found by its new owner's searches
(they filter on the owner), and never by anyone else's: every hit is checked against
``document_chunks``, whose owner moved with the claim.
"""

from __future__ import annotations

import asyncio
import datetime
import logging
import uuid

from .. import store
from ..rag.vectors import ChunkPoint, VectorStore, owner_key
from .ingestion import worker_name

__all__ = ["PointOwners"]

log = logging.getLogger("service.ingest")

BATCH = 256  # points read and rewritten per step


class PointOwners:
    def __init__(
        self,
        db: store.Pool,
        vectors: VectorStore,
        *,
        retry_seconds: float = 30.0,
        worker: str | None = None,
    ) -> None:
        self._db = db
        self._vectors = vectors
        self._retry = datetime.timedelta(seconds=retry_seconds)
        self._worker = worker_name() if worker is None else worker
        self._wake = asyncio.Event()

    def wake(self) -> None:
        """Jobs were queued: stop waiting for the next poll."""
        self._wake.set()

    async def run_once(self) -> bool:
        """Take one job and work it; False when there was none to take."""
        job = await store.take_owner_sync(self._db, worker=self._worker, retry_after=self._retry)
        if job is None:
            return False
        try:
            done = await self.sync(job.document_id)
        except store.UNAVAILABLE:
            raise
        except Exception as error:
            log.exception("syncing the points of document %s failed", job.document_id)
            reason = f"the vector store failed: {type(error).__name__}"
            await store.postpone_owner_sync(
                self._db, job.document_id, worker=self._worker, reason=reason
            )
            return True
        if done:
            await store.finish_owner_sync(self._db, job.document_id, worker=self._worker)
        else:
            await store.postpone_owner_sync(
                self._db,
                job.document_id,
                worker=self._worker,
                reason="the document is being ingested",
            )
        return True

    async def sync(self, document_id: uuid.UUID) -> bool:
        """Make the document's points match its row; False when it must wait (ingesting)."""
        document = await store.get_document_for_worker(self._db, document_id)
        if document is None:
            await self._vectors.delete_document(document_id)
            return True
        if document.status in ("pending", "processing"):
            return False
        owner = owner_key(document.owner_id)
        points = await self._vectors.document_points(document_id)
        stale = [point for point, payload in points.items() if payload.get("owner") != owner]
        for start in range(0, len(stale), BATCH):
            batch = stale[start : start + BATCH]
            stored = await self._vectors.stored_vectors(batch)
            await self._vectors.upsert(
                [
                    ChunkPoint(
                        point_id=point,
                        sparse=stored[point][0],
                        dense=stored[point][1],
                        payload=points[point] | {"owner": owner},
                    )
                    for point in batch
                    if point in stored
                ]
            )
        if stale and await store.get_document_for_worker(self._db, document_id) is None:
            # Deleted while its points were rewritten (its owner erased, say): the erasure
            # may have missed the points this step wrote back.
            await self._vectors.delete_document(document_id)
        return True

    async def run_forever(self, poll_seconds: float) -> None:
        """Work the jobs as they come, polling every ``poll_seconds`` besides being woken."""
        while True:
            try:
                while await self.run_once():
                    pass
            except store.UNAVAILABLE as error:
                log.warning(
                    "point owner sync paused, database unavailable: %s", type(error).__name__
                )
            except Exception:
                log.exception("point owner sync error")
            self._wake.clear()
            try:
                async with asyncio.timeout(poll_seconds):
                    await self._wake.wait()
            except TimeoutError:
                pass
