"""Credentials: opaque random tokens, stored only as sha256 hashes, issued and revoked with audit."""

from __future__ import annotations

import datetime
import hashlib
import secrets
import uuid

import msgspec

from generated import audit, credentials, models

from .errors import NotFound
from .tx import Connection, Db, exec_statement, exec_tx
from .users import create_anonymous_user

__all__ = [
    "IssuedCredential",
    "create_anonymous_account",
    "issue_credential",
    "lookup_credential",
    "revoke_credential",
]


class IssuedCredential(msgspec.Struct, frozen=True):
    token: str  # shown to the client once; only its hash is stored
    credential: models.UserCredential


def token_hash(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


async def issue_credential(
    db: Db,
    user_id: uuid.UUID,
    *,
    ttl: datetime.timedelta,
    kind: models.UserCredentialKind = "session",
    label: str | None = None,
    request_id: str | None = None,
) -> IssuedCredential:
    """Issue a new token for the user, valid for ``ttl``."""
    token = secrets.token_urlsafe(32)
    expires_at = datetime.datetime.now(datetime.UTC) + ttl

    async def work(conn: Connection) -> IssuedCredential:
        credential = await credentials.create_credential(
            conn,
            user_id=user_id,
            token_hash=token_hash(token),
            kind=kind,
            expires_at=expires_at,
            label=label,
        )
        assert credential is not None  # INSERT ... RETURNING always returns the row
        await _audit(conn, "token.issued", credential, request_id)
        return IssuedCredential(token, credential)

    return await exec_tx(db, work)


async def create_anonymous_account(
    db: Db, *, ttl: datetime.timedelta, request_id: str | None = None
) -> IssuedCredential:
    """A new anonymous user and its first credential, in one transaction."""

    async def work(conn: Connection) -> IssuedCredential:
        user = await create_anonymous_user(conn, request_id=request_id)
        return await issue_credential(conn, user.id, ttl=ttl, request_id=request_id)

    return await exec_tx(db, work)


async def lookup_credential(db: Db, token: str) -> models.UserCredential | None:
    """The valid (unexpired, unrevoked) credential for a token, recording its use (throttled)."""
    return await exec_statement(
        db, lambda conn: credentials.authenticate_credential(conn, token_hash=token_hash(token))
    )


async def revoke_credential(
    db: Db, user_id: uuid.UUID, credential_id: uuid.UUID, *, request_id: str | None = None
) -> None:
    """Revoke one of the user's credentials (NotFound when not theirs or already revoked)."""

    async def work(conn: Connection) -> None:
        revoked = await credentials.revoke_credential(
            conn, credential_id=credential_id, user_id=user_id
        )
        if revoked == 0:
            raise NotFound("credential not found")
        await audit.create_audit_entry(
            conn,
            action="token.revoked",
            actor_user_id=user_id,
            target_type="user_credential",
            target_id=str(credential_id),
            request_id=request_id,
        )

    await exec_tx(db, work)


async def _audit(
    conn: Connection, action: str, credential: models.UserCredential, request_id: str | None
) -> None:
    await audit.create_audit_entry(
        conn,
        action=action,
        actor_user_id=credential.user_id,
        target_type="user_credential",
        target_id=str(credential.id),
        request_id=request_id,
        details={"kind": credential.kind, "expires_at": credential.expires_at.isoformat()},
    )
