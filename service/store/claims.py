"""Claims: an anonymous user's history moved to a signed-in user, in one transaction.

What moves: sessions with their messages, citations and ratings (one statement, so the
composite foreign keys that tie a message to its session's user hold at its end), then the
private documents with their chunks and stored contents. A document the signed-in user
already holds with the same content stays behind and goes with the anonymous user, who is
deleted last: its credentials go with it (``DeleteUser`` notifies every process caching
them), and a request of it still in flight finds no user to write for.

The vector points of every document involved carry their owner in a second store that the
transaction cannot reach: a ``document_owner_syncs`` job per document is written in the same
transaction, and worked afterwards (``usecases.point_owners``) until the points match the
document row (rewritten with the new owner, or deleted with the duplicate). A crash at any
point leaves either nothing done or the jobs queued.

Concurrent claims of one anonymous user: each locks it first; the first moves everything and
deletes it, the others then find no user and claim nothing, so there is exactly one owner.
"""

from __future__ import annotations

import datetime
import uuid

import msgspec

from generated import audit, claims, models, users

from .errors import Conflict
from .tx import Connection, Db, exec_statement, exec_tx

__all__ = [
    "ClaimedHistory",
    "NotClaimable",
    "claim_history",
    "finish_owner_sync",
    "postpone_owner_sync",
    "take_owner_sync",
]


class ClaimedHistory(msgspec.Struct, frozen=True, kw_only=True):
    """What one claim moved (all zero when there was nothing left to claim)."""

    from_user_id: uuid.UUID
    sessions: int = 0
    messages: int = 0
    citations: int = 0
    ratings: int = 0
    documents: int = 0
    duplicate_documents: int = 0  # the signed-in user had the same content: dropped


class NotClaimable(Conflict):
    """The credential names a user that is not anonymous: their data is not for the taking."""

    code = "not_claimable"


async def claim_history(
    db: Db,
    *,
    to_user_id: uuid.UUID,
    from_user_id: uuid.UUID,
    credential_id: uuid.UUID,
    request_id: str | None = None,
) -> ClaimedHistory | None:
    """Move the anonymous user's history to ``to_user_id``, audited; None when there is
    nothing to claim (the user is gone or the credential no longer valid: a claim that
    already happened, here or in a concurrent request). NotClaimable when the credential's
    user is not anonymous."""
    if from_user_id == to_user_id:
        return None

    async def work(conn: Connection) -> ClaimedHistory | None:
        claimed = await claims.lock_claimable_user(conn, user_id=from_user_id)
        if claimed is None:
            return None
        if not claimed.is_anonymous or claimed.has_identity:
            raise NotClaimable(
                "the anonymous credential names a signed-in user, whose history cannot be "
                "claimed; send it alone, or only the sign-in token"
            )
        valid = await claims.get_claim_credential(
            conn, credential_id=credential_id, user_id=from_user_id
        )
        if valid is None:
            return None
        await claims.lock_claiming_user(conn, user_id=to_user_id)
        history = await claims.move_chat_history(conn, to_user_id=to_user_id, user_id=from_user_id)
        assert history is not None  # a SELECT of counts always returns its row
        queued = await claims.queue_document_owner_syncs(conn, user_id=from_user_id)
        moved = await claims.move_documents(conn, to_user_id=to_user_id, user_id=from_user_id)
        if moved:
            await claims.move_document_chunks(
                conn, to_user_id=to_user_id, document_ids=moved, user_id=from_user_id
            )
            await claims.move_document_sources(
                conn, to_user_id=to_user_id, document_ids=moved, user_id=from_user_id
            )
        result = ClaimedHistory(
            from_user_id=from_user_id,
            sessions=history.session_count,
            messages=history.message_count,
            citations=history.citation_count,
            ratings=history.rating_count,
            documents=len(moved),
            duplicate_documents=queued - len(moved),
        )
        await users.delete_user(conn, user_id=from_user_id)
        await audit.create_audit_entry(
            conn,
            action="history.claimed",
            actor_user_id=to_user_id,
            target_type="user",
            target_id=str(from_user_id),
            request_id=request_id,
            details=msgspec.to_builtins(result),
        )
        return result

    return await exec_tx(db, work)


async def take_owner_sync(
    db: Db, *, worker: str, retry_after: datetime.timedelta
) -> models.DocumentOwnerSync | None:
    """The oldest point owner sync no worker holds (or held for longer than ``retry_after``),
    now held by ``worker``; None when there is none."""
    stale_before = datetime.datetime.now(datetime.UTC) - retry_after
    return await exec_statement(
        db,
        lambda conn: claims.claim_document_owner_sync_for_worker(
            conn, claimed_by=worker, stale_before=stale_before
        ),
    )


async def finish_owner_sync(db: Db, document_id: uuid.UUID, *, worker: str) -> None:
    """The document's points match it: the job is done (unless it was queued afresh)."""
    await exec_statement(
        db,
        lambda conn: claims.finish_document_owner_sync_for_worker(
            conn, document_id=document_id, claimed_by=worker
        ),
    )


async def postpone_owner_sync(db: Db, document_id: uuid.UUID, *, worker: str, reason: str) -> None:
    """Leave the job for later (taken again after the retry delay), saying why."""
    await exec_statement(
        db,
        lambda conn: claims.postpone_document_owner_sync_for_worker(
            conn, reason=reason, document_id=document_id, claimed_by=worker
        ),
    )
