"""Chat turns: the user message and a pending answer, then the answer completed or failed."""

from __future__ import annotations

import datetime
import uuid
from collections.abc import Sequence

import msgspec

from generated import messages, models
from generated.db import JsonInput

from ..domain import Citation
from .errors import Conflict, NotFound
from .tx import Connection, Db, exec_statement

__all__ = [
    "ChatTurn",
    "complete_chat_turn",
    "fail_abandoned_turns",
    "fail_chat_turn",
    "restart_chat_turn",
    "start_chat_turn",
]


class ChatTurn(msgspec.Struct, frozen=True):
    user_message: models.ChatMessage
    assistant_message: models.ChatMessage
    replayed: bool  # True when a retry returned the turn stored by an earlier request


async def start_chat_turn(
    db: Db,
    user_id: uuid.UUID,
    session_id: uuid.UUID,
    *,
    content: str,
    client_message_id: str | None = None,
    metadata: JsonInput | None = None,
) -> ChatTurn:
    """Store the user message and a pending assistant message before generation starts.

    A retry with the same client_message_id inserts nothing and returns the original turn,
    in whatever state its answer has reached.
    """

    async def work(conn: Connection) -> ChatTurn:
        stored = await messages.append_chat_turn(
            conn,
            session_id=session_id,
            user_id=user_id,
            content=content,
            metadata={} if metadata is None else metadata,
            client_message_id=client_message_id,
        )
        if stored:
            return ChatTurn(stored[0], stored[1], replayed=False)
        if client_message_id is None:
            raise NotFound("session not found")
        original = await messages.get_messages_by_client_id(
            conn, session_id=session_id, user_id=user_id, client_message_id=client_message_id
        )
        if not original:
            raise NotFound("session not found")
        if len(original) != 2:
            raise Conflict("client_message_id was used by a message that is not a chat turn")
        return ChatTurn(original[0], original[1], replayed=True)

    # One statement, and a second only to replay a retry: no transaction needed.
    return await exec_statement(db, work)


async def complete_chat_turn(
    db: Db,
    user_id: uuid.UUID,
    message_id: uuid.UUID,
    *,
    content: str,
    citations_used: Sequence[Citation] = (),
    confidence: float | None = None,
    token_count: int | None = None,
    metadata: JsonInput | None = None,
) -> models.ChatMessage:
    """Complete a pending assistant message with its answer and citations, in one statement:
    the citations travel once, as ``sources``, and the statement copies them into
    message_citations."""
    params = messages.CompleteAssistantMessageParams(
        content=content,
        sources=msgspec.to_builtins(citations_used),
        message_id=message_id,
        user_id=user_id,
        confidence=confidence,
        token_count=token_count,
        metadata=metadata,
    )

    async def work(conn: Connection) -> models.ChatMessage:
        completed = await messages.complete_assistant_message(conn, params)
        if completed is None:
            raise await _not_pending(conn, user_id, message_id)
        return completed

    return await exec_statement(db, work)


async def fail_chat_turn(
    db: Db, user_id: uuid.UUID, message_id: uuid.UUID, *, error: str, retryable: bool
) -> models.ChatMessage:
    """Mark a pending assistant message failed: the turn stays visible, with the error. A
    retryable failure is answered again by a retry of the turn (``restart_chat_turn``)."""

    async def work(conn: Connection) -> models.ChatMessage:
        failed = await messages.fail_assistant_message(
            conn, error=error, retryable=retryable, message_id=message_id, user_id=user_id
        )
        if failed is None:
            raise await _not_pending(conn, user_id, message_id)
        return failed

    return await exec_statement(db, work)


async def restart_chat_turn(
    db: Db, user_id: uuid.UUID, message_id: uuid.UUID, *, lease: datetime.timedelta
) -> models.ChatMessage | None:
    """Take a stored turn's answer over to answer it again, in place: when it is pending but
    nobody has touched it for longer than ``lease`` (its request died), or failed retryably.
    None when another request may still be answering it, or it failed for good."""
    return await exec_statement(
        db,
        lambda conn: messages.restart_assistant_message(
            conn, message_id=message_id, user_id=user_id, lease_seconds=lease.total_seconds()
        ),
    )


async def fail_abandoned_turns(db: Db, *, lease: datetime.timedelta, error: str) -> int:
    """Mark failed (retryably) every answer still pending ``lease`` after its last touch."""
    return await exec_statement(
        db,
        lambda conn: messages.fail_abandoned_assistant_messages_for_worker(
            conn, error=error, lease_seconds=lease.total_seconds()
        ),
    )


async def _not_pending(conn: Connection, user_id: uuid.UUID, message_id: uuid.UUID) -> Exception:
    found = await messages.get_message(conn, message_id=message_id, user_id=user_id)
    if found is None:
        return NotFound("message not found")
    return Conflict(f"message is {found.status}, not a pending answer")
