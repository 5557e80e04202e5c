"""POST /chat: a chat turn (``usecases.chat``) framed as JSON or as server-sent events;
POST /messages/{message_id}/regenerate: a new answer to an answered question, framed alike.

Events: ``start`` (the ids, and a new user's token), ``delta``..., then ``done`` (the whole
response, sent once the answer is stored) or ``error``.

A session named by the client's own key (``session_id`` that is not one of the caller's
session ids) is answered by that name, as older clients expect to read back what they sent.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from .. import store
from ..errors import ApiError, ErrorBody, ErrorDetail, error_response, turn_failure
from ..identity import Identity, unauthorized
from ..json import encode, json_response
from ..schemas import ChatRequest, ChatResponse, RegenerateRequest
from ..usecases.accounts import Principal, Unidentified
from ..usecases.chat import (
    Ask,
    ChatTurns,
    CredentialRequired,
    Started,
    Turn,
    TurnFailed,
    TurnInProgress,
    TurnResult,
)
from ..usecases.session_names import session_uuid
from ..validation import check_length, check_session_name, invalid

__all__ = ["chat", "regenerate"]


async def chat(
    request: Request, *, user: Principal | Unidentified | None, body: ChatRequest
) -> Response:
    settings = request.state.settings
    text = _question(body, settings.max_message_chars)
    name = body.session_id
    if name is not None:
        check_session_name(name, "body", "session_id")
    context = body.context
    if context is not None:
        check_length(context, settings.max_context_chars, "context")
    turns: ChatTurns = request.state.turns
    ask = Ask(
        text=text,
        session_id=None if name is None else session_uuid(name),
        session_key=name,
        client_message_id=body.client_message_id,
        context=context if context and not context.isspace() else None,
    )
    try:
        turn = await turns.begin(user, ask, request_id=request.state.request_id)
    except CredentialRequired as error:
        details = {"location": "body", "field": "session_id"}
        raise unauthorized(f"body field `session_id`: {error}", details) from error
    request.state.user_id = turn.user_id
    try:
        response = await _answer(request, turns, turn, stream=body.stream, name=name)
    except (TurnFailed, TurnInProgress) as error:
        _name_session(error.ids, name)  # the error's details name the session as sent
        raise
    if turn.new_user is not None:
        identity: Identity = request.state.identity
        identity.remember(response, turn.new_user)
    return response


async def regenerate(
    request: Request, *, user: Principal, message_id: uuid.UUID, body: RegenerateRequest
) -> Response:
    """A new answer to the question answer ``message_id`` replied to; the earlier answer is
    then superseded (shown in the history only with ``?answers=all``)."""
    turns: ChatTurns = request.state.turns
    try:
        turn = await turns.regenerate(user, message_id, client_message_id=body.client_message_id)
    except store.NotRegenerable as error:
        raise ApiError(
            422,
            "invalid_request",
            "path field `message_id`: not an answer: only an assistant message that replies "
            "to a question can be regenerated",
            {"location": "path", "field": "message_id"},
        ) from error
    except store.AnswerSuperseded as error:
        details = {"current_answer_id": error.current_answer_id}
        raise ApiError(409, error.code, str(error), details) from error
    return await _answer(request, turns, turn, stream=body.stream, name=None)


async def _answer(
    request: Request, turns: ChatTurns, turn: Turn, *, stream: bool, name: str | None
) -> Response:
    """The turn answered as server-sent events or as JSON (a failure too, for a new user,
    who needs the token it carries)."""
    if stream:
        events = await turns.stream(turn)
        response = StreamingResponse(_events(request, events, name), media_type="text/event-stream")
        response.headers["Cache-Control"] = "no-store"
        return response
    try:
        return json_response(_response(await turns.answer(turn), name))
    except TurnFailed as failure:
        if turn.new_user is None:
            raise
        _name_session(failure.ids, name)
        retry_after = request.state.settings.retry_after_seconds
        return error_response(turn_failure(failure, retry_after=retry_after))


def _question(body: ChatRequest, max_chars: int) -> str:
    """The question, from ``message`` or the legacy ``query``."""
    if (body.message is None) == (body.query is None):
        raise invalid(
            "body", "message", "send exactly one of `message` or `query` (the legacy name)"
        )
    field, text = ("message", body.message) if body.message is not None else ("query", body.query)
    assert text is not None
    if not text.strip():
        raise invalid("body", field, "must not be empty")
    return check_length(text, max_chars, field)


def _response(result: TurnResult, name: str | None) -> ChatResponse:
    return ChatResponse(
        answer=result.answer.text,
        sources=result.answer.sources,
        confidence=result.answer.confidence,
        session_id=_named(result.session_id, name),
        user_message_id=result.user_message_id,
        assistant_message_id=result.assistant_message_id,
        usage=result.answer.usage,
        saved=result.saved,
        replayed=result.replayed,
        token=result.token,
    )


def _name_session(ids: dict[str, Any], name: str | None) -> None:
    """Turn ids (of a start event, or an error's details) with the session named as sent."""
    if name is not None and "session_id" in ids:
        ids["session_id"] = name


def _named(session_id: uuid.UUID | None, name: str | None) -> str | None:
    """The stored turn's session as the request named it (None when it was not stored)."""
    if session_id is None:
        return None
    return str(session_id) if name is None else name


def _event(name: str, data: Any) -> bytes:
    return b"event: " + name.encode() + b"\ndata: " + encode(data) + b"\n\n"


async def _events(
    request: Request,
    events: AsyncIterator[Started | str | TurnResult | TurnFailed],
    session_name: str | None,
) -> AsyncIterator[bytes]:
    async for event in events:
        if isinstance(event, str):
            yield _event("delta", {"text": event})
        elif isinstance(event, Started):
            start: dict[str, Any] = event.ids | {"saved": event.saved}
            _name_session(start, session_name)
            if event.replayed:
                start["replayed"] = True
            if event.token is not None:
                start["token"] = event.token
            yield _event("start", start)
        elif isinstance(event, TurnResult):
            yield _event("done", _response(event, session_name))
        else:
            _name_session(event.ids, session_name)
            retry_after = request.state.settings.retry_after_seconds
            failure = turn_failure(event, retry_after=retry_after)
            yield _event(
                "error", ErrorBody(ErrorDetail(failure.code, failure.message, failure.details))
            )
