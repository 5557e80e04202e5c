"""Chat turns: the user message and a pending answer, then the answer completed or failed."""

from __future__ import annotations

import datetime
import uuid
from collections.abc import Sequence

import msgspec

from generated import messages, models
from generated.db import JsonInput

from ..domain import Citation
from .errors import Conflict, InvalidInput, NotFound
from .tx import Connection, Db, exec_statement

__all__ = [
    "AnswerPending",
    "AnswerSuperseded",
    "ChatTurn",
    "NotRegenerable",
    "complete_chat_turn",
    "fail_abandoned_turns",
    "fail_chat_turn",
    "restart_chat_turn",
    "start_chat_turn",
    "start_regenerated_turn",
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


class NotRegenerable(InvalidInput):
    """Only an assistant message that replies to a question can be regenerated."""

    code = "not_an_answer"


class AnswerPending(Conflict):
    """The answer is still being written: it cannot be regenerated yet."""

    code = "turn_in_progress"

    def __init__(self, answer: models.ChatMessage) -> None:
        super().__init__("the answer is still being generated")
        self.answer = answer


class AnswerSuperseded(Conflict):
    """A regenerated answer replaced this one: regenerate the current answer instead."""

    code = "answer_superseded"

    def __init__(self, current_answer_id: uuid.UUID | None) -> None:
        super().__init__("a regenerated answer replaced this one; regenerate the current answer")
        self.current_answer_id = current_answer_id


# A regeneration that finds nothing wrong with its answer, yet stored nothing, met a
# concurrent change between its statements: it tries again, this many times in all.
_REGENERATE_ATTEMPTS = 3


async def start_regenerated_turn(
    db: Db, user_id: uuid.UUID, message_id: uuid.UUID, *, client_message_id: str | None = None
) -> ChatTurn:
    """Store a new pending answer to the question that answer ``message_id`` replied to, with
    the session's next sequence number, and mark that answer superseded, in one statement.

    A retry with the same client_message_id inserts nothing and returns the regenerated turn,
    in whatever state its answer has reached. Of concurrent regenerations of one answer with
    different client_message_ids, the first stores a new answer and the others find it
    superseded. NotFound: not one of the user's messages; NotRegenerable: not an answer to a
    question; AnswerPending, AnswerSuperseded; Conflict: client_message_id was used by
    another message of the session.
    """

    async def work(conn: Connection) -> ChatTurn:
        for _ in range(_REGENERATE_ATTEMPTS):
            stored = await messages.regenerate_answer(
                conn, message_id=message_id, user_id=user_id, client_message_id=client_message_id
            )
            if stored:
                return ChatTurn(stored[0], stored[1], replayed=False)
            answer = await messages.get_message(conn, message_id=message_id, user_id=user_id)
            if answer is None:
                raise NotFound("message not found")
            if answer.role != "assistant" or answer.reply_to_id is None:
                raise NotRegenerable("only an answer to a question can be regenerated")
            if client_message_id is not None:
                replayed = await _regenerated_by_client_id(conn, answer, client_message_id)
                if replayed is not None:
                    return replayed
            if answer.status == "pending":
                raise AnswerPending(answer)
            if answer.superseded_at is not None:
                current = await messages.get_current_answer(
                    conn, question_id=answer.reply_to_id, user_id=user_id
                )
                raise AnswerSuperseded(None if current is None else current.id)
        raise Conflict("the answer changed while it was being regenerated; try again")

    # One statement, and reads only to replay a retry or say what stood in the way.
    return await exec_statement(db, work)


async def _regenerated_by_client_id(
    conn: Connection, answer: models.ChatMessage, client_message_id: str
) -> ChatTurn | None:
    """The turn a regeneration of ``answer``'s question stored with this client_message_id (a
    retry); None when the key is unused in the session, Conflict when it names another message."""
    keyed = await messages.get_regenerated_answer_by_client_id(
        conn,
        session_id=answer.session_id,
        user_id=answer.user_id,
        client_message_id=client_message_id,
    )
    if not keyed:
        return None
    if len(keyed) != 2 or keyed[1].reply_to_id != answer.reply_to_id:
        raise Conflict("client_message_id was used by another message of this session")
    return ChatTurn(keyed[0], keyed[1], replayed=True)


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
