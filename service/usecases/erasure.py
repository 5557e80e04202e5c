"""Erasure (DELETE /me): the user and everything they own, in PostgreSQL at once and in the
vector store as a durable job.

The user's rows go in one transaction that also records a vector erasure job
(``store.erase_user``). The points are then deleted by their indexed ``owner`` payload:
right away by the request when it can, else by the process that runs the ingestion worker
(the owner of the embedded engine), which retries the job until it succeeds. A process that
dies halfway leaves the job claimed; it is taken over after ERASURE_RETRY_SECONDS. Deleting
an owner's points is idempotent, so a job done twice does no harm.

Audit rows of the user stay with the fact, the actor and target ids, and the time; what
their details said (a failed document's error names its URL or file) is erased.
"""

from __future__ import annotations

import asyncio
import datetime
import logging
import uuid

from .. import store
from ..rag.vectors import VectorStore
from ..settings import Settings
from .credential_cache import CredentialCache
from .ingestion import worker_name
from .limits import Limits

__all__ = ["Erasure"]

log = logging.getLogger("service.erasure")


class Erasure:
    def __init__(
        self,
        db: store.Pool,
        vectors: VectorStore,
        settings: Settings,
        limits: Limits,
        *,
        cache: CredentialCache | None = None,
        worker: str | None = None,
    ) -> None:
        self._db = db
        self._vectors = vectors
        self._retry_after = datetime.timedelta(seconds=settings.erasure_retry_seconds)
        self._poll_seconds = settings.ingest_poll_seconds
        self._buckets = [
            limits.chat_turns.bucket,
            limits.uploads.bucket,
            limits.upload_bytes.bucket,
        ]
        self._cache = cache
        self.worker = worker_name() if worker is None else worker
        self._wake = asyncio.Event()

    async def erase(self, user_id: uuid.UUID, *, request_id: str | None) -> bool:
        """Erase the user (NotFound when already gone). True when the vector points are gone
        too; False when that part is queued (the vector store failed), and a worker finishes it.
        """
        job = await store.erase_user(
            self._db, user_id, rate_limit_buckets=self._buckets, request_id=request_id
        )
        if self._cache is not None:  # here at once; elsewhere when the notification arrives
            self._cache.revoked(store.Revoked(user_id=user_id))
        try:
            return await self._run(job.id)
        except store.UNAVAILABLE as error:
            # The rows are gone and the job is recorded: only the bookkeeping failed.
            log.warning("vector erasure %s left to the worker: %s", job.id, type(error).__name__)
            self._wake.set()
            return False

    async def run_once(self) -> bool | None:
        """Claim and run the oldest job due: whether it succeeded; None when none was due."""
        job = await store.claim_vector_erasure(
            self._db, worker=self.worker, retry_after=self._retry_after
        )
        if job is None:
            return None
        return await self._delete_points(job)

    async def run_forever(self) -> None:
        """The worker loop: the jobs due until one fails (the vector store is down: the rest
        wait too) or none is left, then wait for the next poll (or a wake-up)."""
        while True:
            try:
                while await self.run_once():
                    pass
            except store.UNAVAILABLE as error:
                log.warning("vector erasure paused, database unavailable: %s", type(error).__name__)
            except Exception:
                log.exception("vector erasure worker error")
            self._wake.clear()
            try:
                async with asyncio.timeout(self._poll_seconds):
                    await self._wake.wait()
            except TimeoutError:
                pass

    async def _run(self, erasure_id: uuid.UUID) -> bool:
        job = await store.claim_vector_erasure(
            self._db, worker=self.worker, retry_after=self._retry_after, erasure_id=erasure_id
        )
        if job is None:  # a worker holds it already
            return False
        return await self._delete_points(job)

    async def _delete_points(self, job: store.VectorErasure) -> bool:
        """Delete the job's points, then the job; on failure record why (retried later)."""
        try:
            await self._vectors.delete_owner(job.owner_id)
        except Exception as error:
            # The client's or the server's own text is for the log; the row says what failed.
            log.warning("vector erasure %s failed: %s: %s", job.id, type(error).__name__, error)
            await store.fail_vector_erasure(
                self._db, job.id, error=f"the vector store failed ({type(error).__name__})"
            )
            return False
        await store.finish_vector_erasure(self._db, job.id)
        log.info("vector points erased", extra={"erasure_id": str(job.id)})
        return True
