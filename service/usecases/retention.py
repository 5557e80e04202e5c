"""Retention: what has outlived its use, counted (a dry run) or purged.

Sessions inactive for longer than the given days go with their messages and citations;
credentials that have expired go (they can never authenticate again); with
RETENTION_DROP_DOCUMENT_CONTENT, so do the stored contents of documents whose ingestion
completed (their chunks and vectors stay, so they are still found and cited; `reindex`
can then rebuild only the documents it can fetch again, by URL). Each purge batch writes an
audit row with its counts. The process that runs the ingestion worker purges every
RETENTION_INTERVAL_SECONDS when RETENTION_DAYS is above 0.
"""

from __future__ import annotations

import asyncio
import datetime
import logging
from collections.abc import AsyncIterator

import msgspec

from .. import store
from ..settings import Settings

__all__ = ["Retention", "RetentionCounts"]

log = logging.getLogger("service.retention")


class RetentionCounts(msgspec.Struct, frozen=True, kw_only=True):
    """What a purge deletes (dry run) or deleted. ``document_contents`` is None when
    RETENTION_DROP_DOCUMENT_CONTENT is off (nothing of the kind is purged)."""

    cutoff: datetime.datetime  # sessions last active before this go
    sessions: int
    messages: int
    credentials: int
    document_contents: int | None
    document_content_bytes: int | None


class Retention:
    def __init__(self, db: store.Pool, settings: Settings) -> None:
        self._db = db
        self._drop_contents = settings.retention_drop_document_content

    @staticmethod
    def cutoff(inactive_days: int, *, now: datetime.datetime | None = None) -> datetime.datetime:
        now = datetime.datetime.now(datetime.UTC) if now is None else now
        return now - datetime.timedelta(days=inactive_days)

    async def count(self, cutoff: datetime.datetime) -> RetentionCounts:
        """Dry run: what ``purge(cutoff)`` would delete now. Changes nothing."""
        sessions = await store.count_inactive_sessions(self._db, cutoff=cutoff)
        # Credentials are judged by their own expiry, at the time of the run.
        credentials = await store.count_expired_credentials(self._db, cutoff=_now())
        contents = None
        if self._drop_contents:
            contents = await store.count_completed_document_contents(self._db)
        return _counts(cutoff, sessions, credentials, contents)

    async def inactive_sessions(
        self, cutoff: datetime.datetime
    ) -> AsyncIterator[store.InactiveSession]:
        """Dry run: every session a purge would delete, oldest activity first, in pages."""
        after = None
        while page := await store.list_inactive_sessions(self._db, cutoff=cutoff, after=after):
            for session in page:
                yield session
            after = page[-1]

    async def purge(
        self, cutoff: datetime.datetime, *, request_id: str | None = None
    ) -> RetentionCounts:
        """Delete what ``count(cutoff)`` counts; what was deleted."""
        sessions = await store.purge_inactive_sessions(
            self._db, cutoff=cutoff, request_id=request_id
        )
        credentials = await store.purge_expired_credentials(
            self._db, cutoff=_now(), request_id=request_id
        )
        contents = None
        if self._drop_contents:
            contents = await store.purge_completed_document_contents(
                self._db, request_id=request_id
            )
        return _counts(cutoff, sessions, credentials, contents)

    async def run_forever(self, inactive_days: int, interval_seconds: float) -> None:
        """The worker's schedule: a purge now, then every ``interval_seconds``."""
        while True:
            try:
                purged = await self.purge(self.cutoff(inactive_days))
                log.info("retention purge", extra=msgspec.structs.asdict(purged))
            except store.UNAVAILABLE as error:
                log.warning("retention paused, database unavailable: %s", type(error).__name__)
            except Exception:
                log.exception("retention purge failed")
            await asyncio.sleep(interval_seconds)


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def _counts(
    cutoff: datetime.datetime,
    sessions: store.PurgedSessions,
    credentials: int,
    contents: store.PurgedContents | None,
) -> RetentionCounts:
    return RetentionCounts(
        cutoff=cutoff,
        sessions=sessions.sessions,
        messages=sessions.messages,
        credentials=credentials,
        document_contents=None if contents is None else contents.documents,
        document_content_bytes=None if contents is None else contents.bytes,
    )
