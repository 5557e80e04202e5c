"""POST /chat: a chat turn (``usecases.chat``) framed as JSON or as server-sent events.

Events: ``start`` (the ids, and a new user's token), ``delta``..., then ``done`` (the whole
response, sent once the answer is stored) or ``error``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from ..errors import ErrorBody, ErrorDetail, error_response, turn_failure
from ..identity import Identity, unauthorized
from ..json import encode, json_response
from ..schemas import ChatRequest, ChatResponse
from ..usecases.accounts import Principal, Unidentified
from ..usecases.chat import (
    Ask,
    ChatTurns,
    CredentialRequired,
    Started,
    TurnFailed,
    TurnResult,
)
from ..validation import check_length, invalid

__all__ = ["chat"]


async def chat(
    request: Request, *, user: Principal | Unidentified | None, body: ChatRequest
) -> Response:
    text = _question(body, request.state.settings.max_message_chars)
    turns: ChatTurns = request.state.turns
    ask = Ask(text=text, session_id=body.session_id, client_message_id=body.client_message_id)
    try:
        turn = await turns.begin(user, ask, request_id=request.state.request_id)
    except CredentialRequired as error:
        details = {"location": "body", "field": "session_id"}
        raise unauthorized(f"body field `session_id`: {error}", details) from error
    request.state.user_id = turn.user_id
    response: Response
    if body.stream:
        events = await turns.stream(turn)
        response = StreamingResponse(_events(request, events), media_type="text/event-stream")
        response.headers["Cache-Control"] = "no-store"
    else:
        try:
            response = json_response(_response(await turns.answer(turn)))
        except TurnFailed as failure:
            if turn.new_user is None:
                raise
            retry_after = request.state.settings.retry_after_seconds
            response = error_response(turn_failure(failure, retry_after=retry_after))
    if turn.new_user is not None:
        identity: Identity = request.state.identity
        identity.remember(response, turn.new_user)
    return response


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


def _response(result: TurnResult) -> ChatResponse:
    return ChatResponse(
        answer=result.answer.text,
        sources=result.answer.sources,
        confidence=result.answer.confidence,
        session_id=result.session_id,
        user_message_id=result.user_message_id,
        assistant_message_id=result.assistant_message_id,
        usage=result.answer.usage,
        saved=result.saved,
        replayed=result.replayed,
        token=result.token,
    )


def _event(name: str, data: Any) -> bytes:
    return b"event: " + name.encode() + b"\ndata: " + encode(data) + b"\n\n"


async def _events(
    request: Request, events: AsyncIterator[Started | str | TurnResult | TurnFailed]
) -> AsyncIterator[bytes]:
    async for event in events:
        if isinstance(event, str):
            yield _event("delta", {"text": event})
        elif isinstance(event, Started):
            start: dict[str, Any] = event.ids | {"saved": event.saved}
            if event.replayed:
                start["replayed"] = True
            if event.token is not None:
                start["token"] = event.token
            yield _event("start", start)
        elif isinstance(event, TurnResult):
            yield _event("done", _response(event))
        else:
            retry_after = request.state.settings.retry_after_seconds
            failure = turn_failure(event, retry_after=retry_after)
            yield _event(
                "error", ErrorBody(ErrorDetail(failure.code, failure.message, failure.details))
            )
