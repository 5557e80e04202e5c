"""Feedback on answers: rate one (PUT), take the rating back (DELETE), and the caller's rated
answers as JSON Lines (GET /feedback/export), streamed a page at a time."""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from .. import store
from ..json import encode, json_response
from ..schemas import FeedbackSet, feedback_out, rated_answer_out
from ..usecases.accounts import Principal
from ..validation import invalid

__all__ = ["JSON_LINES", "delete_feedback", "export_feedback", "set_feedback"]

JSON_LINES = "application/x-ndjson"

log = logging.getLogger("service")


async def set_feedback(
    request: Request, *, user: Principal, message_id: uuid.UUID, body: FeedbackSet
) -> Response:
    comment = body.comment if body.comment and not body.comment.isspace() else None
    try:
        stored = await store.set_feedback(
            request.state.db,
            user.user_id,
            message_id,
            rating=body.rating,
            comment=comment,
            request_id=request.state.request_id,
        )
    except store.NotAnAnswer as error:
        raise invalid("path", "message_id", str(error)) from error
    return json_response(feedback_out(stored))


async def delete_feedback(request: Request, *, user: Principal, message_id: uuid.UUID) -> Response:
    await store.delete_feedback(
        request.state.db, user.user_id, message_id, request_id=request.state.request_id
    )
    return Response(status_code=204)


async def export_feedback(request: Request, *, user: Principal) -> Response:
    """One line per rated answer, MAX_PAGE_SIZE answers read at a time. The first page is read
    before answering, within the request's budget, so that an unreachable database is still a
    503; each later page gets a budget of its own (DB_REQUEST_BUDGET), as a request would."""
    settings = request.state.settings
    first = await store.list_rated_answers(
        request.state.db, user.user_id, limit=settings.max_page_size
    )
    lines = _lines(
        request.state.db,
        user.user_id,
        first,
        page_size=settings.max_page_size,
        budget=settings.db_request_budget,
    )
    response = StreamingResponse(lines, media_type=JSON_LINES)
    response.headers["Cache-Control"] = "no-store"
    return response


async def _lines(
    db: store.Db,
    user_id: uuid.UUID,
    page: store.RatedAnswerPage,
    *,
    page_size: int,
    budget: float,
) -> AsyncIterator[bytes]:
    sent = 0
    while True:
        if page.answers:
            yield b"".join(encode(rated_answer_out(answer)) + b"\n" for answer in page.answers)
            sent += len(page.answers)
        if page.after is None:
            return
        try:
            with store.deadline(budget):
                page = await store.list_rated_answers(
                    db, user_id, limit=page_size, after=page.after
                )
        except store.UNAVAILABLE:
            # The status is sent: the transfer is cut short (no last chunk), so the client
            # sees an incomplete body rather than an export that merely looks shorter.
            log.warning("feedback export cut short after %d answers: database unavailable", sent)
            raise
