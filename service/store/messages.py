"""Messages: history in pages for the user, and the recent messages an answer is written with."""

from __future__ import annotations

import uuid
from typing import Annotated

import msgspec

from generated import messages, models, sessions

from .cursors import decode_cursor, encode_cursor
from .errors import InvalidInput, NotFound
from .tx import Connection, Db, exec_statement

__all__ = ["MessagePage", "list_messages", "recent_messages"]


class MessagePage(msgspec.Struct, frozen=True):
    messages: list[models.ChatMessage]  # oldest first
    next_cursor: str | None  # the page of older messages; None when this is the first
    # The reader's rating of each answer they rated, by message id.
    ratings: dict[uuid.UUID, models.MessageFeedbackRating] = msgspec.field(default_factory=dict)


class _MessagePosition(msgspec.Struct, frozen=True, array_like=True):
    before_seq: Annotated[int, msgspec.Meta(ge=1)]


async def list_messages(
    db: Db,
    user_id: uuid.UUID,
    session_id: uuid.UUID,
    *,
    limit: int,
    before: str | None = None,
    all_answers: bool = False,
) -> MessagePage:
    """The last ``limit`` messages before the cursor, oldest first; records the read (throttled).

    An answer replaced by a regenerated one is left out unless ``all_answers``."""
    if limit < 1:
        raise InvalidInput("limit must be at least 1")
    before_seq = None if before is None else decode_cursor(before, _MessagePosition).before_seq

    async def work(conn: Connection) -> MessagePage:
        # Reads the page and records the read in one statement.
        rows = await messages.list_last_messages(
            conn,
            session_id=session_id,
            user_id=user_id,
            all_answers=all_answers,
            limit=limit + 1,
            before_seq=before_seq,
        )
        if (
            not rows
            and await sessions.get_session(conn, session_id=session_id, user_id=user_id) is None
        ):
            raise NotFound("session not found")
        page, next_cursor = rows[:limit], None
        if len(rows) > limit:
            next_cursor = encode_cursor(_MessagePosition(page[-1].chat_message.seq))
        ratings = {row.chat_message.id: row.rating for row in page if row.rating is not None}
        return MessagePage([row.chat_message for row in reversed(page)], next_cursor, ratings)

    return await exec_statement(db, work)


async def recent_messages(
    db: Db, user_id: uuid.UUID, session_id: uuid.UUID, *, limit: int
) -> list[models.ChatMessage]:
    """The session's last ``limit`` messages, newest first, without recording a read (an
    answer's context is not the user reading); empty when the session is not the user's."""
    return await exec_statement(
        db,
        lambda conn: messages.list_recent_messages(
            conn, session_id=session_id, user_id=user_id, limit=limit
        ),
        attempts=1,
    )


async def session_of_client_message(
    db: Db, user_id: uuid.UUID, client_message_id: str
) -> uuid.UUID | None:
    """The session of the user's latest message with this client message id, if any."""
    return await exec_statement(
        db,
        lambda conn: messages.get_session_of_client_message(
            conn, user_id=user_id, client_message_id=client_message_id
        ),
    )
