"""Retention: count and list (dry run), then purge, what has outlived its use: sessions
inactive since a cutoff (with their messages and citations), credentials expired before one,
and the stored contents of documents whose ingestion completed. Purges go in batches, each
its own transaction with an audit row of its counts, so a long purge holds no lock for long
and what it did is recorded even when it stops halfway."""

from __future__ import annotations

import datetime
import uuid

import msgspec

from generated import audit, retention

from .tx import Connection, Db, exec_statement, exec_tx

__all__ = [
    "InactiveSession",
    "PurgedContents",
    "PurgedSessions",
    "count_completed_document_contents",
    "count_expired_credentials",
    "count_inactive_sessions",
    "list_inactive_sessions",
    "purge_completed_document_contents",
    "purge_expired_credentials",
    "purge_inactive_sessions",
]

InactiveSession = retention.ListInactiveSessionsRetentionRow


class PurgedSessions(msgspec.Struct, frozen=True):
    sessions: int
    messages: int


class PurgedContents(msgspec.Struct, frozen=True):
    documents: int
    bytes: int


_START = (datetime.datetime.min.replace(tzinfo=datetime.UTC), uuid.UUID(int=0))


async def count_inactive_sessions(db: Db, *, cutoff: datetime.datetime) -> PurgedSessions:
    """Dry run: the sessions (and their messages) a purge with this cutoff would delete."""
    row = await exec_statement(
        db, lambda conn: retention.count_inactive_sessions_retention(conn, cutoff=cutoff)
    )
    assert row is not None  # aggregates: always one row
    return PurgedSessions(row.sessions, row.messages)


async def list_inactive_sessions(
    db: Db,
    *,
    cutoff: datetime.datetime,
    after: InactiveSession | None = None,
    limit: int = 1000,
) -> list[InactiveSession]:
    """Dry run: a page of those sessions, oldest activity first, after the row ``after``."""
    after_activity, after_id = _START if after is None else (after.last_activity_at, after.id)
    return await exec_statement(
        db,
        lambda conn: retention.list_inactive_sessions_retention(
            conn, cutoff=cutoff, after_activity=after_activity, after_id=after_id, limit=limit
        ),
    )


async def purge_inactive_sessions(
    db: Db, *, cutoff: datetime.datetime, request_id: str | None = None, batch_size: int = 500
) -> PurgedSessions:
    """Delete every session inactive since before ``cutoff``, with its messages and
    citations; the totals purged."""

    async def purge_batch(conn: Connection) -> PurgedSessions:
        purged = await retention.purge_inactive_sessions_retention(
            conn, cutoff=cutoff, limit=batch_size
        )
        assert purged is not None  # aggregates: always one row
        if purged.sessions:
            await _audit_purge(
                conn, "chat_sessions", request_id, cutoff=cutoff.isoformat(),
                sessions=purged.sessions, messages=purged.messages,
            )  # fmt: skip
        return PurgedSessions(purged.sessions, purged.messages)

    sessions_total = messages_total = 0
    while True:
        batch = await exec_tx(db, purge_batch)
        sessions_total += batch.sessions
        messages_total += batch.messages
        if batch.sessions < batch_size:
            return PurgedSessions(sessions_total, messages_total)


async def count_expired_credentials(db: Db, *, cutoff: datetime.datetime) -> int:
    """Dry run: the credentials that expired before ``cutoff``."""
    return await exec_statement(
        db, lambda conn: retention.count_expired_credentials_retention(conn, cutoff=cutoff)
    )


async def purge_expired_credentials(
    db: Db, *, cutoff: datetime.datetime, request_id: str | None = None, batch_size: int = 1000
) -> int:
    """Delete the credentials that expired before ``cutoff``; how many."""

    async def purge_batch(conn: Connection) -> int:
        purged = await retention.purge_expired_credentials_batch_retention(
            conn, cutoff=cutoff, limit=batch_size
        )
        if purged:
            await _audit_purge(
                conn, "user_credentials", request_id, cutoff=cutoff.isoformat(), credentials=purged
            )
        return purged

    total = 0
    while True:
        purged = await exec_tx(db, purge_batch)
        total += purged
        if purged < batch_size:
            return total


async def count_completed_document_contents(db: Db) -> PurgedContents:
    """Dry run: the stored contents of documents whose ingestion completed, and their bytes."""
    row = await exec_statement(db, retention.count_completed_document_contents_retention)
    assert row is not None  # aggregates: always one row
    return PurgedContents(row.documents, row.bytes)


async def purge_completed_document_contents(
    db: Db, *, request_id: str | None = None, batch_size: int = 100
) -> PurgedContents:
    """Delete the stored contents of documents whose ingestion completed (their chunks stay
    searchable); how many, and their bytes. Batches are small: contents may be megabytes."""

    async def purge_batch(conn: Connection) -> PurgedContents:
        purged = await retention.purge_completed_document_contents_retention(conn, limit=batch_size)
        assert purged is not None  # aggregates: always one row
        if purged.documents:
            await _audit_purge(
                conn, "document_sources", request_id,
                document_contents=purged.documents, bytes=purged.bytes,
            )  # fmt: skip
        return PurgedContents(purged.documents, purged.bytes)

    documents_total = bytes_total = 0
    while True:
        batch = await exec_tx(db, purge_batch)
        documents_total += batch.documents
        bytes_total += batch.bytes
        if batch.documents < batch_size:
            return PurgedContents(documents_total, bytes_total)


async def _audit_purge(
    conn: Connection, target_type: str, request_id: str | None, **counts: str | int
) -> None:
    await audit.create_audit_entry(
        conn,
        action="retention.purged",
        target_type=target_type,
        request_id=request_id,
        details=counts,
    )
