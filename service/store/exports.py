"""Exports: everything a user owns, read in keyset pages so that no export holds a whole
history at once (each page is one statement, under whatever deadline its caller opened)."""

from __future__ import annotations

import uuid

import msgspec

from generated import citations, exports, models, users

from .errors import NotFound
from .tx import Connection, Db, exec_statement

__all__ = [
    "ExportedMessage",
    "ExportedUser",
    "Identity",
    "export_messages",
    "export_sessions",
    "export_user",
]

Identity = exports.ListUserIdentitiesForExportRow
Citation = citations.ListMessageCitationsRow


class ExportedUser(msgspec.Struct, frozen=True):
    user: models.User
    identities: list[Identity]


class ExportedMessage(msgspec.Struct, frozen=True):
    message: models.ChatMessage
    citations: list[Citation]  # by rank


async def export_user(db: Db, user_id: uuid.UUID) -> ExportedUser:
    """The user's record and external identities (NotFound when the user is gone)."""

    async def work(conn: Connection) -> ExportedUser:
        user = await users.get_user(conn, user_id=user_id)
        if user is None:
            raise NotFound("user not found")
        identities = await exports.list_user_identities_for_export(conn, user_id=user_id)
        return ExportedUser(user, identities)

    return await exec_statement(db, work)


async def export_sessions(
    db: Db, user_id: uuid.UUID, *, after_id: uuid.UUID, limit: int
) -> list[models.ChatSession]:
    """A page of the user's sessions in id (creation) order, after ``after_id``."""
    return await exec_statement(
        db,
        lambda conn: exports.list_sessions_for_export(
            conn, user_id=user_id, after_id=after_id, limit=limit
        ),
    )


async def export_messages(
    db: Db, user_id: uuid.UUID, session_id: uuid.UUID, *, after_seq: int, limit: int
) -> list[ExportedMessage]:
    """A page of one of the user's sessions' messages, oldest first, with their citations."""

    async def work(conn: Connection) -> list[ExportedMessage]:
        messages = await exports.list_session_messages_for_export(
            conn, session_id=session_id, user_id=user_id, after_seq=after_seq, limit=limit
        )
        cited: dict[uuid.UUID, list[Citation]] = {}
        assistant_ids = [message.id for message in messages if message.role == "assistant"]
        if assistant_ids:
            rows = await citations.list_message_citations(
                conn, message_ids=assistant_ids, user_id=user_id
            )
            for row in rows:
                cited.setdefault(row.message_id, []).append(row)
        return [ExportedMessage(message, cited.get(message.id, [])) for message in messages]

    return await exec_statement(db, work)
