"""POST /chat: store the question, answer it, store the answer; as JSON or server-sent events.

The user message and a pending assistant message are stored before answering; the answer
then completes the assistant message, or fails it with the error. When PostgreSQL cannot
be reached the question is still answered, and the response says it was not saved.
"""

from __future__ import annotations

import contextlib
import logging
import uuid
from collections.abc import AsyncIterator
from typing import Any

import anyio
import msgspec
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from .. import store
from ..answers import Answer, Answerer, Question, RetrievalUnavailable, answer, estimate_tokens
from ..errors import DATABASE_UNAVAILABLE, ApiError, ErrorBody, ErrorDetail, error_response
from ..identity import Identity, NewUser
from ..json import encode, json_response
from ..schemas import ChatRequest, ChatResponse, Citation, Usage
from ..validation import check_length, decode_json, invalid

__all__ = ["chat"]

log = logging.getLogger("service.chat")

# A first turn without a session gets a session id derived from the user and the
# client_message_id, so its retry finds the same session (and so the same turn).
_FIRST_TURN_SESSIONS = uuid.UUID("6b1d3c9e-8f43-4a57-9d0e-3f6c2a8b7e51")


# Failing an interrupted turn: it was failed already, or the database is gone.
_NOTHING_TO_ADD: tuple[type[Exception], ...] = (store.Conflict, *DATABASE_UNAVAILABLE)


class _Turn(msgspec.Struct, frozen=True):
    """What was stored before answering (None throughout when nothing could be stored)."""

    stored: store.ChatTurn | None
    new_user: NewUser | None


async def chat(request: Request) -> Response:
    body = await decode_json(request, ChatRequest)
    text = _question(body, request.state.settings.max_message_chars)
    try:
        turn = await _start(request, body, text)
    except DATABASE_UNAVAILABLE as error:
        log.warning("chat turn not saved, database unavailable: %s", type(error).__name__)
        turn = _Turn(None, None)
    stored = turn.stored
    if stored is not None and stored.replayed:
        return _replay(stored, stream=body.stream)
    question = Question(
        text=text,
        user_id=None if stored is None else stored.user_message.user_id,
        session_id=None if stored is None else stored.user_message.session_id,
    )
    if body.stream:
        response: Response = StreamingResponse(
            _events(request, question, turn), media_type="text/event-stream"
        )
        response.headers["Cache-Control"] = "no-store"
    else:
        try:
            result = await _answer(request, question, stored)
        except ApiError as failure:
            if turn.new_user is None:
                raise
            # The failed turn belongs to the new user: hand out their credential anyway,
            # so a retry with the same client_message_id finds it.
            failure.details = (failure.details or {}) | {"token": turn.new_user.token}
            response = error_response(failure)
        else:
            saved = stored is not None and await _complete(request, stored, result)
            response = json_response(_response(result, turn, saved=saved))
    if turn.new_user is not None:
        identity: Identity = request.state.identity
        identity.remember(response, turn.new_user)
    return response


def _question(body: ChatRequest, max_chars: int) -> str:
    if (body.message is None) == (body.query is None):
        raise invalid(
            "body", "message", "send exactly one of `message` or `query` (the legacy name)"
        )
    field = "message" if body.message is not None else "query"
    text = body.message if body.message is not None else body.query
    assert text is not None
    if not text.strip():
        raise invalid("body", field, "must not be empty")
    return check_length(text, max_chars, field)


async def _start(request: Request, body: ChatRequest, text: str) -> _Turn:
    identity: Identity = request.state.identity
    db: store.Pool = request.state.db
    principal = await identity.authenticate(request)
    new_user = None
    if principal is None:
        if body.session_id is not None:
            raise ApiError(
                401,
                "unauthorized",
                "body field `session_id`: continuing a session needs the token returned with it",
                {"location": "body", "field": "session_id"},
                headers={"WWW-Authenticate": "Bearer"},
            )
        new_user = await identity.create_anonymous(request)
        principal = new_user.principal
    request.state.user_id = principal.user_id
    session_id = body.session_id
    if session_id is None:
        if body.client_message_id is not None:
            name = f"{principal.user_id}:{body.client_message_id}"
            session_id = uuid.uuid5(_FIRST_TURN_SESSIONS, name)
            await store.ensure_session(db, principal.user_id, session_id)
        else:
            session_id = (await store.create_session(db, principal.user_id)).id
    stored = await store.start_chat_turn(
        db, principal.user_id, session_id, content=text, client_message_id=body.client_message_id
    )
    return _Turn(stored, new_user)


async def _answer(request: Request, question: Question, stored: store.ChatTurn | None) -> Answer:
    answerer: Answerer = request.state.answerer
    try:
        return await answer(answerer, question)
    except Exception as error:
        log.exception("answer failed")
        raise await _failed(request, stored, error) from error


async def _failed(request: Request, stored: store.ChatTurn | None, error: Exception) -> ApiError:
    """Record the failure on the turn (when stored) and say what failed."""
    reason = f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
    details: dict[str, Any] = {"saved": False}
    if stored is not None:
        details = _ids(stored) | {"saved": True}
        try:
            await store.fail_chat_turn(
                request.state.db,
                stored.assistant_message.user_id,
                stored.assistant_message.id,
                error=reason,
            )
        except DATABASE_UNAVAILABLE:
            details["saved"] = False
    if isinstance(error, RetrievalUnavailable):
        return ApiError(
            503,
            "retrieval_unavailable",
            f"the document index cannot be searched; retry shortly ({reason})",
            details,
            headers={"Retry-After": str(request.state.settings.retry_after_seconds)},
        )
    return ApiError(502, "answer_failed", f"the answer could not be generated: {reason}", details)


async def _complete(request: Request, stored: store.ChatTurn, result: Answer) -> bool:
    """Store the answer on the pending message; False when the database could not be reached."""
    try:
        await store.complete_chat_turn(
            request.state.db,
            stored.assistant_message.user_id,
            stored.assistant_message.id,
            content=result.text,
            citations_used=result.sources,
            confidence=result.confidence,
            token_count=result.usage.completion_tokens,
            metadata={"usage": msgspec.to_builtins(result.usage)},
        )
    except DATABASE_UNAVAILABLE as error:
        log.warning("answer not saved, database unavailable: %s", type(error).__name__)
        return False
    return True


def _ids(stored: store.ChatTurn) -> dict[str, Any]:
    return {
        "session_id": str(stored.user_message.session_id),
        "user_message_id": str(stored.user_message.id),
        "assistant_message_id": str(stored.assistant_message.id),
    }


def _response(result: Answer, turn: _Turn, *, saved: bool, replayed: bool = False) -> ChatResponse:
    stored = turn.stored
    return ChatResponse(
        answer=result.text,
        sources=result.sources,
        confidence=result.confidence,
        session_id=None if stored is None else stored.user_message.session_id,
        user_message_id=None if stored is None else stored.user_message.id,
        assistant_message_id=None if stored is None else stored.assistant_message.id,
        usage=result.usage,
        saved=saved,
        replayed=replayed,
        token=None if turn.new_user is None else turn.new_user.token,
    )


def _replay(stored: store.ChatTurn, *, stream: bool) -> Response:
    """The original outcome of a turn retried with the same client_message_id."""
    assistant = stored.assistant_message
    if assistant.status == "pending":
        raise ApiError(
            409,
            "turn_in_progress",
            "the first request with this client_message_id is still being answered",
            _ids(stored),
            headers={"Retry-After": "1"},
        )
    if assistant.status == "failed":
        raise ApiError(
            502,
            "answer_failed",
            f"the answer could not be generated: {assistant.error}",
            _ids(stored) | {"saved": True},
        )
    result = Answer(
        text=assistant.content,
        sources=msgspec.convert(assistant.sources, list[Citation]),
        confidence=assistant.confidence,
        usage=_stored_usage(stored),
    )
    body = _response(result, _Turn(stored, None), saved=True, replayed=True)
    if not stream:
        return json_response(body)

    async def events() -> AsyncIterator[bytes]:
        yield _event("start", _ids(stored) | {"replayed": True})
        yield _event("delta", {"text": result.text})
        yield _event("done", body)

    return StreamingResponse(events(), media_type="text/event-stream")


def _stored_usage(stored: store.ChatTurn) -> Usage:
    metadata = stored.assistant_message.metadata
    usage = metadata.get("usage") if isinstance(metadata, dict) else None
    try:
        return msgspec.convert(usage, Usage)
    except msgspec.ValidationError:
        prompt = estimate_tokens(stored.user_message.content)
        completion = estimate_tokens(stored.assistant_message.content)
        return Usage(
            prompt_tokens=prompt,
            completion_tokens=completion,
            total_tokens=prompt + completion,
            estimated=True,
        )


def _event(name: str, data: Any) -> bytes:
    return b"event: " + name.encode() + b"\ndata: " + encode(data) + b"\n\n"


async def _events(request: Request, question: Question, turn: _Turn) -> AsyncIterator[bytes]:
    """start, delta..., then done (the full response, sent once the answer is stored) or error."""
    stored = turn.stored
    start: dict[str, Any] = {"saved": stored is not None}
    if stored is not None:
        start |= _ids(stored)
    if turn.new_user is not None:
        start["token"] = turn.new_user.token
    yield _event("start", start)
    answerer: Answerer = request.state.answerer
    result: Answer | None = None
    try:
        async for item in answerer.stream(question):
            if isinstance(item, Answer):
                result = item
            else:
                yield _event("delta", {"text": item})
        if result is None:
            raise RuntimeError("the answerer ended without an answer")
    except Exception as error:
        log.exception("streamed answer failed")
        failure = await _failed(request, stored, error)
        yield _event(
            "error", ErrorBody(ErrorDetail(failure.code, failure.message, failure.details))
        )
        return
    finally:
        if result is None and stored is not None:
            # The client went away mid-stream: the turn must not stay pending forever.
            with anyio.CancelScope(shield=True):
                await _fail_quietly(request, stored, "the stream was interrupted")
    with anyio.CancelScope(shield=True):  # a client leaving now must not cut the write short
        saved = stored is not None and await _complete(request, stored, result)
    yield _event("done", _response(result, turn, saved=saved))


async def _fail_quietly(request: Request, stored: store.ChatTurn, reason: str) -> None:
    with contextlib.suppress(*_NOTHING_TO_ADD):
        await store.fail_chat_turn(
            request.state.db,
            stored.assistant_message.user_id,
            stored.assistant_message.id,
            error=reason,
        )
