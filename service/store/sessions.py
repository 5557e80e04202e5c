"""Chat sessions: create, read, edit, delete, and list by last activity with keyset cursors."""

from __future__ import annotations

import datetime
import uuid
from typing import Annotated

import msgspec

from generated import audit, models, sessions
from generated.db import JsonInput

from .cursors import decode_cursor, encode_cursor
from .errors import InvalidInput, NotFound
from .tx import Connection, Db, exec_statement, exec_tx

__all__ = [
    "SessionPage",
    "create_session",
    "delete_session",
    "ensure_session",
    "find_keyed_session",
    "get_session",
    "keyed_session",
    "list_sessions",
    "update_session",
]


class SessionPage(msgspec.Struct, frozen=True):
    sessions: list[models.ChatSession]
    next_cursor: str | None  # None on the last page


class _SessionPosition(msgspec.Struct, frozen=True, array_like=True):
    last_activity_at: Annotated[datetime.datetime, msgspec.Meta(tz=True)]
    id: uuid.UUID


async def create_session(
    db: Db, user_id: uuid.UUID, *, title: str | None = None, metadata: JsonInput | None = None
) -> models.ChatSession:
    """Start a session for the user (NotFound when the user does not exist)."""
    created = await exec_statement(
        db,
        lambda conn: sessions.create_session(conn, user_id=user_id, title=title, metadata=metadata),
    )
    assert created is not None  # INSERT ... RETURNING always returns the row
    return created


async def ensure_session(db: Db, user_id: uuid.UUID, session_id: uuid.UUID) -> None:
    """Create the session with this id for the user unless a session with the id exists.

    Whose it is stays unchecked here: every later read or write of it is scoped to the user.
    """
    await exec_statement(
        db, lambda conn: sessions.ensure_session(conn, session_id=session_id, user_id=user_id)
    )


async def keyed_session(db: Db, user_id: uuid.UUID, client_key: str) -> models.ChatSession:
    """The user's session named by the client's own key, started (with the key) the first time.

    Keys are the user's: the same key from another user names another session."""

    async def work(conn: Connection) -> models.ChatSession:
        for _ in range(2):  # the second time sees the session a concurrent request started
            found = await sessions.ensure_keyed_session(
                conn, user_id=user_id, client_key=client_key
            )
            if found is not None:
                return found
        raise RuntimeError("a keyed session was neither found nor started")

    return await exec_statement(db, work)


async def find_keyed_session(
    db: Db, user_id: uuid.UUID, client_key: str
) -> models.ChatSession | None:
    """The user's session named by the client's own key; None when the key started none."""
    return await exec_statement(
        db, lambda conn: sessions.get_keyed_session(conn, user_id=user_id, client_key=client_key)
    )


async def get_session(db: Db, user_id: uuid.UUID, session_id: uuid.UUID) -> models.ChatSession:
    """One of the user's sessions (NotFound for anyone else's)."""
    found = await exec_statement(
        db, lambda conn: sessions.get_session(conn, session_id=session_id, user_id=user_id)
    )
    if found is None:
        raise NotFound("session not found")
    return found


async def update_session(
    db: Db,
    user_id: uuid.UUID,
    session_id: uuid.UUID,
    *,
    title: str | None = None,
    metadata: JsonInput | None = None,
) -> models.ChatSession:
    """Rename and/or replace the metadata of a session (None keeps the current value)."""
    updated = await exec_statement(
        db,
        lambda conn: sessions.update_session(
            conn, session_id=session_id, user_id=user_id, title=title, metadata=metadata
        ),
    )
    if updated is None:
        raise NotFound("session not found")
    return updated


async def delete_session(
    db: Db, user_id: uuid.UUID, session_id: uuid.UUID, *, request_id: str | None = None
) -> None:
    """Delete a session with its messages and citations, and audit it in the same transaction."""

    async def work(conn: Connection) -> None:
        if await sessions.delete_session(conn, session_id=session_id, user_id=user_id) == 0:
            raise NotFound("session not found")
        await audit.create_audit_entry(
            conn,
            action="session.deleted",
            actor_user_id=user_id,
            target_type="chat_session",
            target_id=str(session_id),
            request_id=request_id,
        )

    await exec_tx(db, work)


async def list_sessions(
    db: Db, user_id: uuid.UUID, *, limit: int, cursor: str | None = None
) -> SessionPage:
    """A page of the user's sessions, most recently active first; pass next_cursor for more."""
    if limit < 1:
        raise InvalidInput("limit must be at least 1")
    after = None if cursor is None else decode_cursor(cursor, _SessionPosition)
    rows = await exec_statement(
        db,
        lambda conn: sessions.list_sessions(
            conn,
            user_id=user_id,
            limit=limit + 1,  # one more row tells whether there is a next page
            before_activity=None if after is None else after.last_activity_at,
            before_id=None if after is None else after.id,
        ),
    )
    page, next_cursor = rows[:limit], None
    if len(rows) > limit:
        next_cursor = encode_cursor(_SessionPosition(page[-1].last_activity_at, page[-1].id))
    return SessionPage(page, next_cursor)
