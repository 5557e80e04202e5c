"""Messages: append with the next sequence number (idempotently), read history in pages."""

from __future__ import annotations

import uuid
from typing import Annotated

import msgspec

from generated import messages, models, sessions
from generated.db import JsonInput

from .cursors import decode_cursor, encode_cursor
from .errors import InvalidInput, NotFound
from .tx import Connection, Db, exec_statement

__all__ = ["MessagePage", "append_message", "list_messages"]


class MessagePage(msgspec.Struct, frozen=True):
    messages: list[models.ChatMessage]  # oldest first
    next_cursor: str | None  # the page of older messages; None when this is the first


class _MessagePosition(msgspec.Struct, frozen=True, array_like=True):
    before_seq: Annotated[int, msgspec.Meta(ge=1)]


async def append_message(
    db: Db,
    user_id: uuid.UUID,
    session_id: uuid.UUID,
    *,
    role: str,
    content: str,
    client_message_id: str | None = None,
    metadata: JsonInput | None = None,
    token_count: int | None = None,
) -> models.ChatMessage:
    """Append a complete message; a retry with the same client_message_id returns the original."""
    params = messages.AppendMessageParams(
        role=role,
        status_="complete",
        content=content,
        sources=[],
        metadata={} if metadata is None else metadata,
        session_id=session_id,
        user_id=user_id,
        token_count=token_count,
        client_message_id=client_message_id,
    )

    async def work(conn: Connection) -> models.ChatMessage:
        appended = await messages.append_message(conn, params)
        if appended is None and client_message_id is not None:
            appended = await messages.get_message_by_client_id(
                conn, session_id=session_id, user_id=user_id, client_message_id=client_message_id
            )
        if appended is None:
            raise NotFound("session not found")
        return appended

    # One statement, and a second only to replay a retry: no transaction needed.
    return await exec_statement(db, work)


async def list_messages(
    db: Db, user_id: uuid.UUID, session_id: uuid.UUID, *, limit: int, before: str | None = None
) -> MessagePage:
    """The last ``limit`` messages before the cursor, oldest first; records the read (throttled)."""
    if limit < 1:
        raise InvalidInput("limit must be at least 1")
    before_seq = None if before is None else decode_cursor(before, _MessagePosition).before_seq

    async def work(conn: Connection) -> MessagePage:
        # Reads the page and records the read in one statement.
        rows = await messages.list_last_messages(
            conn, session_id=session_id, user_id=user_id, limit=limit + 1, before_seq=before_seq
        )
        if (
            not rows
            and await sessions.get_session(conn, session_id=session_id, user_id=user_id) is None
        ):
            raise NotFound("session not found")
        page, next_cursor = rows[:limit], None
        if len(rows) > limit:
            next_cursor = encode_cursor(_MessagePosition(page[-1].seq))
        return MessagePage(page[::-1], next_cursor)

    return await exec_statement(db, work)
