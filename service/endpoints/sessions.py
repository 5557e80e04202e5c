"""Sessions and their history: list, create, read, edit, delete; messages in pages (also
GET /history/{session_id}, for older clients, by session id or the client's own key)."""

from __future__ import annotations

import uuid

from starlette.requests import Request
from starlette.responses import Response

from .. import store
from ..json import json_response
from ..schemas import (
    MessageList,
    MessagesQuery,
    SessionCreate,
    SessionList,
    SessionsQuery,
    SessionUpdate,
    history_out,
    message_out,
    session_out,
)
from ..usecases.accounts import Principal
from ..usecases.session_names import named_messages
from ..validation import invalid, named_cursor
from .search import search_text

__all__ = [
    "create_session",
    "delete_session",
    "get_session",
    "history",
    "list_messages",
    "list_sessions",
    "update_session",
]


async def list_sessions(
    request: Request, *, user: Principal, query: SessionsQuery, limit: int
) -> Response:
    """The caller's sessions by last activity; with ``q``, only those holding a message
    that matches it (GET /search's query)."""
    with named_cursor("cursor"):
        if query.q:
            page = await store.sessions_matching(
                request.state.db,
                user.user_id,
                config=request.state.settings.search_config,
                query=search_text(query.q),
                limit=limit,
                cursor=query.cursor or None,
            )
        else:
            page = await store.list_sessions(
                request.state.db, user.user_id, limit=limit, cursor=query.cursor or None
            )
    sessions = [session_out(session) for session in page.sessions]
    return json_response(SessionList(sessions=sessions, next_cursor=page.next_cursor))


async def create_session(request: Request, *, user: Principal, body: SessionCreate) -> Response:
    session = await store.create_session(
        request.state.db, user.user_id, title=body.title, metadata=body.metadata
    )
    return json_response(session_out(session), status=201)


async def get_session(request: Request, *, user: Principal, session_id: uuid.UUID) -> Response:
    session = await store.get_session(request.state.db, user.user_id, session_id)
    return json_response(session_out(session))


async def update_session(
    request: Request, *, user: Principal, session_id: uuid.UUID, body: SessionUpdate
) -> Response:
    if body.title is None and body.metadata is None:
        raise invalid("body", None, "send `title` and/or `metadata` to change")
    session = await store.update_session(
        request.state.db, user.user_id, session_id, title=body.title, metadata=body.metadata
    )
    return json_response(session_out(session))


async def delete_session(request: Request, *, user: Principal, session_id: uuid.UUID) -> Response:
    await store.delete_session(
        request.state.db, user.user_id, session_id, request_id=request.state.request_id
    )
    return Response(status_code=204)


async def list_messages(
    request: Request, *, user: Principal, session_id: uuid.UUID, query: MessagesQuery, limit: int
) -> Response:
    """The last ``limit`` messages before the cursor, oldest first."""
    with named_cursor("before"):
        page = await store.list_messages(
            request.state.db,
            user.user_id,
            session_id,
            limit=limit,
            before=query.before or None,
            all_answers=query.answers == "all",
        )
    messages = [message_out(message, page.ratings.get(message.id)) for message in page.messages]
    return json_response(
        MessageList(session_id=session_id, messages=messages, next_cursor=page.next_cursor)
    )


async def history(
    request: Request, *, user: Principal, session_id: str, query: MessagesQuery, limit: int
) -> Response:
    """GET /history/{session_id}: list_messages for a session named by one of the caller's
    session ids or by the client's own key, answered with the name as sent and each
    message's ``timestamp``."""
    with named_cursor("before"):
        page = await named_messages(
            request.state.db,
            user.user_id,
            session_id,
            limit=limit,
            before=query.before or None,
            all_answers=query.answers == "all",
        )
    return json_response(history_out(session_id, page))
