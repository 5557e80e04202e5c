"""Erasure: a user deleted with everything they own, and the durable job that deletes their
vector points (a second store, outside this transaction) until it is done.

What goes in the one transaction: the user row and, by ON DELETE CASCADE, their sessions,
messages, citations, credentials, external identities and documents (with chunks and stored
contents); their abuse-limit counters; what their audit rows' details said (the rows stay,
with the fact, the actor and target ids and the time); and the vector erasure job. The
DeleteUser statement notifies ``credential_revoked``, so every process's credential cache
drops the user's tokens once it commits.
"""

from __future__ import annotations

import datetime
import uuid
from collections.abc import Sequence

from generated import audit, erasures, models, users

from .errors import NotFound
from .tx import Connection, Db, exec_statement, exec_tx

__all__ = [
    "VectorErasure",
    "claim_vector_erasure",
    "count_vector_erasures",
    "erase_user",
    "fail_vector_erasure",
    "finish_vector_erasure",
]

VectorErasure = models.VectorErasure


async def erase_user(
    db: Db,
    user_id: uuid.UUID,
    *,
    rate_limit_buckets: Sequence[str],
    request_id: str | None = None,
) -> VectorErasure:
    """Delete the user and all they own (NotFound when already gone); the returned job
    deletes their vector points."""

    async def work(conn: Connection) -> VectorErasure:
        await erasures.allow_audit_erasure(conn)
        await erasures.erase_audit_details(conn, user_id=user_id)
        await erasures.delete_user_rate_limits(
            conn, buckets=list(rate_limit_buckets), user_id=str(user_id)
        )
        if await users.delete_user(conn, user_id=user_id) == 0:
            raise NotFound("user not found")
        job = await erasures.create_vector_erasure(conn, owner_id=user_id)
        assert job is not None  # INSERT ... RETURNING always returns the row
        await audit.create_audit_entry(
            conn,
            action="user.deleted",
            actor_user_id=user_id,
            target_type="user",
            target_id=str(user_id),
            request_id=request_id,
        )
        return job

    return await exec_tx(db, work)


async def claim_vector_erasure(
    db: Db,
    *,
    worker: str,
    retry_after: datetime.timedelta,
    erasure_id: uuid.UUID | None = None,
) -> VectorErasure | None:
    """The oldest job nobody holds (or one by id), claimed by ``worker``; None when there is
    none. A job claimed longer than ``retry_after`` ago (its worker died, or failed) is
    taken over: deleting an owner's points twice is harmless."""
    stale_before = datetime.datetime.now(datetime.UTC) - retry_after
    if erasure_id is None:
        return await exec_statement(
            db,
            lambda conn: erasures.claim_vector_erasure_for_worker(
                conn, claimed_by=worker, stale_before=stale_before
            ),
        )
    return await exec_statement(
        db,
        lambda conn: erasures.claim_vector_erasure_by_id_for_worker(
            conn, claimed_by=worker, erasure_id=erasure_id, stale_before=stale_before
        ),
    )


async def finish_vector_erasure(db: Db, erasure_id: uuid.UUID) -> None:
    """The points are gone: the job goes (done)."""
    await exec_statement(
        db, lambda conn: erasures.delete_vector_erasure_for_worker(conn, erasure_id=erasure_id)
    )


async def fail_vector_erasure(db: Db, erasure_id: uuid.UUID, *, error: str) -> None:
    """Why an attempt failed; the job is retried once its claim is stale."""
    await exec_statement(
        db,
        lambda conn: erasures.fail_vector_erasure_for_worker(
            conn, error=error, erasure_id=erasure_id
        ),
    )


async def count_vector_erasures(db: Db) -> int:
    """Jobs not done yet."""
    return await exec_statement(db, erasures.count_vector_erasures_for_worker)
