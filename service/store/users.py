"""Users: registered or anonymous (real rows either way), created with audit (erasure.py deletes them)."""

from __future__ import annotations

import uuid

from generated import audit, models, users

from .tx import Connection, Db, exec_statement, exec_tx

__all__ = [
    "create_anonymous_user",
    "create_user",
    "ensure_anonymous_user",
    "identified_user",
    "user_exists",
]


async def create_user(
    db: Db, *, email: str | None = None, name: str | None = None, request_id: str | None = None
) -> models.User:
    """Create a registered user (Conflict when the email is taken, in any letter case)."""

    async def work(conn: Connection) -> models.User:
        user = await users.create_user(conn, email=email, name=name)
        assert user is not None  # INSERT ... RETURNING always returns the row
        await _audit_created(conn, user, request_id)
        return user

    return await exec_tx(db, work)


async def create_anonymous_user(db: Db, *, request_id: str | None = None) -> models.User:
    """Create an anonymous user: a real row that can register later."""

    async def work(conn: Connection) -> models.User:
        user = await users.create_anonymous_user(conn)
        assert user is not None  # INSERT ... RETURNING always returns the row
        await _audit_created(conn, user, request_id)
        return user

    return await exec_tx(db, work)


async def ensure_anonymous_user(
    db: Db, user_id: uuid.UUID, *, request_id: str | None = None
) -> bool:
    """Create the anonymous user with this id unless it exists (audited when created): the
    user a legacy session key stands for. True when this call created it."""

    async def work(conn: Connection) -> bool:
        user = await users.ensure_anonymous_user(conn, user_id=user_id)
        if user is None:
            return False
        await _audit_created(conn, user, request_id)
        return True

    return await exec_tx(db, work)


async def user_exists(db: Db, user_id: uuid.UUID) -> bool:
    """Whether the user exists."""
    found = await exec_statement(db, lambda conn: users.get_user(conn, user_id=user_id))
    return found is not None


async def identified_user(
    db: Db,
    issuer: str,
    subject: str,
    *,
    email: str | None = None,
    name: str | None = None,
    request_id: str | None = None,
) -> uuid.UUID:
    """The user an external identity names: created with it the first time; what the issuer
    says of it (email, name) kept current. One statement when nothing changed."""
    identity = await exec_statement(
        db, lambda conn: users.get_user_identity(conn, issuer=issuer, subject=subject)
    )
    if identity is not None:
        if (identity.email, identity.name) != (email, name):
            await exec_statement(
                db,
                lambda conn: users.update_user_identity(
                    conn, issuer=issuer, subject=subject, email=email, name=name
                ),
            )
        return identity.user_id

    async def work(conn: Connection) -> uuid.UUID | None:
        user = await users.create_user(conn, email=None, name=name)
        assert user is not None  # INSERT ... RETURNING always returns the row
        created = await users.create_user_identity(
            conn, issuer=issuer, subject=subject, user_id=user.id, email=email, name=name
        )
        if created is None:  # a concurrent request recorded it first: keep its user
            raise _RecordedMeanwhile
        await _audit_created(conn, user, request_id)
        return user.id

    try:
        created_id = await exec_tx(db, work)
    except _RecordedMeanwhile:
        created_id = None
    if created_id is not None:
        return created_id
    return await identified_user(db, issuer, subject, email=email, name=name)


class _RecordedMeanwhile(Exception):
    """Rolls back a user created for an identity another request recorded first."""


async def _audit_created(conn: Connection, user: models.User, request_id: str | None) -> None:
    await audit.create_audit_entry(
        conn,
        action="user.created",
        actor_user_id=user.id,
        target_type="user",
        target_id=str(user.id),
        request_id=request_id,
        details={"anonymous": user.is_anonymous},
    )
