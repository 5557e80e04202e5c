"""Retention: list (dry run) and purge the sessions inactive since a cutoff, with audit rows."""

from __future__ import annotations

import datetime

from generated import audit, sessions

from .tx import Connection, Db, exec_statement, exec_tx

__all__ = ["list_expired_sessions", "purge_expired_sessions"]

ExpiredSession = sessions.ListExpiredSessionsRetentionRow
PurgedSession = sessions.PurgeExpiredSessionsRetentionRow


async def list_expired_sessions(
    db: Db, *, cutoff: datetime.datetime, limit: int = 1000
) -> list[ExpiredSession]:
    """Dry run: the sessions a purge with this cutoff would delete, oldest first. Changes nothing."""
    return await exec_statement(
        db, lambda conn: sessions.list_expired_sessions_retention(conn, cutoff=cutoff, limit=limit)
    )


async def purge_expired_sessions(
    db: Db, *, cutoff: datetime.datetime, request_id: str | None = None, batch_size: int = 500
) -> list[PurgedSession]:
    """Delete every session inactive since before ``cutoff`` (cascading to its messages and
    citations) in batches, each with one audit row per purged session in the same transaction.
    """

    async def purge_batch(conn: Connection) -> list[PurgedSession]:
        purged = await sessions.purge_expired_sessions_retention(
            conn, cutoff=cutoff, limit=batch_size
        )
        for session in purged:
            await audit.create_audit_entry(
                conn,
                action="retention.purged",
                target_type="chat_session",
                target_id=str(session.id),
                request_id=request_id,
                details={"user_id": str(session.user_id), "cutoff": cutoff.isoformat()},
            )
        return purged

    purged_all: list[PurgedSession] = []
    while True:
        batch = await exec_tx(db, purge_batch)
        purged_all.extend(batch)
        if len(batch) < batch_size:
            return purged_all
