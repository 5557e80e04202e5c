"""Feedback on answers: a user's rating of one of their answers, set, replaced and deleted with
an audit entry each, and the rated answers read back in pages for an evaluation set."""

from __future__ import annotations

import datetime
import uuid
from typing import cast

import msgspec

from generated import audit, feedback, messages, models

from .errors import Conflict, InvalidInput, NotFound
from .tx import Connection, Db, exec_statement, exec_tx

__all__ = [
    "Feedback",
    "FeedbackRating",
    "NotAnAnswer",
    "RatedAnswer",
    "RatedAnswerPage",
    "RatedCitation",
    "delete_feedback",
    "list_rated_answers",
    "set_feedback",
]

FeedbackRating = models.MessageFeedbackRating


class Feedback(msgspec.Struct, frozen=True, kw_only=True):
    message_id: uuid.UUID
    rating: FeedbackRating
    comment: str | None
    created_at: datetime.datetime
    updated_at: datetime.datetime  # when the rating or comment last changed


class RatedCitation(msgspec.Struct, frozen=True, kw_only=True):
    """A passage a rated answer cited, as ListRatedAnswers writes it."""

    rank: int
    document_id: uuid.UUID | None  # None once the document is deleted
    chunk_id: uuid.UUID | None
    point_id: uuid.UUID | None
    score: float | None
    document_title: str | None
    document_url: str | None
    text: str | None  # the chunk's text; the snippet kept with the citation once it is gone


class RatedAnswer(msgspec.Struct, frozen=True, kw_only=True):
    message_id: uuid.UUID
    session_id: uuid.UUID
    question: str | None  # None for an answer stored without its question (an import)
    answer: str
    citations: list[RatedCitation]  # by rank
    rating: FeedbackRating
    comment: str | None
    rated_at: datetime.datetime


class RatedAnswerPage(msgspec.Struct, frozen=True):
    answers: list[RatedAnswer]  # in message id order
    after: uuid.UUID | None  # pass back for the next page; None on the last


class NotAnAnswer(InvalidInput):
    """Only assistant messages are rated."""


async def set_feedback(
    db: Db,
    user_id: uuid.UUID,
    message_id: uuid.UUID,
    *,
    rating: FeedbackRating,
    comment: str | None,
    request_id: str | None = None,
) -> Feedback:
    """Rate one of the user's complete answers, replacing its earlier rating and comment, and
    audit it in the same transaction. NotFound for a message that is not the user's;
    NotAnAnswer for a question; Conflict for an answer not complete (pending or failed)."""

    async def work(conn: Connection) -> Feedback:
        stored = await feedback.set_message_feedback(
            conn, user_id=user_id, message_id=message_id, rating=rating, comment=comment
        )
        if stored is None:
            raise await _why_not_rated(conn, user_id, message_id)
        await audit.create_audit_entry(
            conn,
            action="feedback.set",
            actor_user_id=user_id,
            target_type="chat_message",
            target_id=str(message_id),
            request_id=request_id,
            details={"rating": stored.rating, "previous_rating": stored.previous_rating},
        )
        return Feedback(
            message_id=stored.message_id,
            # The column's CHECK allows only the ratings; the query's CTE hides its type.
            rating=cast(FeedbackRating, stored.rating),
            comment=stored.comment,
            created_at=stored.created_at,
            updated_at=stored.updated_at,
        )

    return await exec_tx(db, work)


async def _why_not_rated(conn: Connection, user_id: uuid.UUID, message_id: uuid.UUID) -> Exception:
    """The error for a message SetMessageFeedback would not rate."""
    message = await messages.get_message(conn, message_id=message_id, user_id=user_id)
    if message is None:
        return NotFound("message not found")
    if message.role != "assistant":
        return NotAnAnswer(f"only answers can be rated; this is a {message.role} message")
    if message.status == "pending":
        return Conflict("the answer is still being written: rate it once it is complete")
    return Conflict("the answer failed: there is no answer to rate")


async def delete_feedback(
    db: Db, user_id: uuid.UUID, message_id: uuid.UUID, *, request_id: str | None = None
) -> None:
    """Delete the user's rating of a message, audited (NotFound when there is none)."""

    async def work(conn: Connection) -> None:
        deleted = await feedback.delete_message_feedback(
            conn, user_id=user_id, message_id=message_id
        )
        if deleted is None:
            raise NotFound("no feedback on this message")
        await audit.create_audit_entry(
            conn,
            action="feedback.deleted",
            actor_user_id=user_id,
            target_type="chat_message",
            target_id=str(message_id),
            request_id=request_id,
            details={"rating": deleted},
        )

    await exec_tx(db, work)


async def list_rated_answers(
    db: Db, user_id: uuid.UUID, *, limit: int, after: uuid.UUID | None = None
) -> RatedAnswerPage:
    """A page of the user's rated answers after ``after`` (None: the first page), in message id
    order: an order a rating set or changed meanwhile cannot move an answer in, so paging
    through never repeats or skips one that was rated throughout."""
    if limit < 1:
        raise InvalidInput("limit must be at least 1")
    rows = await exec_statement(
        db,
        lambda conn: feedback.list_rated_answers(
            conn,
            user_id=user_id,
            limit=limit + 1,  # one more row tells whether there is a next page
            after_message_id=after,
        ),
    )
    page = [_rated_answer(row) for row in rows[:limit]]
    return RatedAnswerPage(page, page[-1].message_id if len(rows) > limit else None)


def _rated_answer(row: feedback.ListRatedAnswersRow) -> RatedAnswer:
    return RatedAnswer(
        message_id=row.message_id,
        session_id=row.session_id,
        question=row.question,
        answer=row.answer,
        citations=msgspec.convert(row.citations, list[RatedCitation]),
        rating=row.rating,
        comment=row.comment,
        rated_at=row.rated_at,
    )
