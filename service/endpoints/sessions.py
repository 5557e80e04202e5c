"""Sessions and their history: list, create, read, edit, delete; messages in pages."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from .. import store
from ..identity import require_user
from ..json import json_response
from ..schemas import (
    MessageList,
    MessagesQuery,
    SessionCreate,
    SessionList,
    SessionsQuery,
    SessionUpdate,
    message_out,
    session_out,
)
from ..validation import decode_json, decode_query, invalid, named_cursor, page_size, path_uuid

__all__ = [
    "create_session",
    "delete_session",
    "get_session",
    "list_messages",
    "list_sessions",
    "update_session",
]


async def list_sessions(request: Request) -> Response:
    principal = await require_user(request)
    query = decode_query(request.query_params, SessionsQuery)
    with named_cursor("cursor"):
        page = await store.list_sessions(
            request.state.db,
            principal.user_id,
            limit=page_size(query.limit, request.state.settings),
            cursor=query.cursor or None,
        )
    sessions = [session_out(session) for session in page.sessions]
    return json_response(SessionList(sessions=sessions, next_cursor=page.next_cursor))


async def create_session(request: Request) -> Response:
    principal = await require_user(request)
    body = await decode_json(request, SessionCreate)
    session = await store.create_session(
        request.state.db, principal.user_id, title=body.title, metadata=body.metadata
    )
    return json_response(session_out(session), status=201)


async def get_session(request: Request) -> Response:
    principal = await require_user(request)
    session_id = path_uuid(request, "session_id")
    session = await store.get_session(request.state.db, principal.user_id, session_id)
    return json_response(session_out(session))


async def update_session(request: Request) -> Response:
    principal = await require_user(request)
    session_id = path_uuid(request, "session_id")
    body = await decode_json(request, SessionUpdate)
    if body.title is None and body.metadata is None:
        raise invalid("body", None, "send `title` and/or `metadata` to change")
    session = await store.update_session(
        request.state.db, principal.user_id, session_id, title=body.title, metadata=body.metadata
    )
    return json_response(session_out(session))


async def delete_session(request: Request) -> Response:
    principal = await require_user(request)
    session_id = path_uuid(request, "session_id")
    await store.delete_session(
        request.state.db, principal.user_id, session_id, request_id=request.state.request_id
    )
    return Response(status_code=204)


async def list_messages(request: Request) -> Response:
    """The last ``limit`` messages before the cursor, oldest first (also GET /history/{id})."""
    principal = await require_user(request)
    session_id = path_uuid(request, "session_id")
    query = decode_query(request.query_params, MessagesQuery)
    with named_cursor("before"):
        page = await store.list_messages(
            request.state.db,
            principal.user_id,
            session_id,
            limit=page_size(query.limit, request.state.settings),
            before=query.before or None,
        )
    messages = [message_out(message) for message in page.messages]
    return json_response(
        MessageList(session_id=session_id, messages=messages, next_cursor=page.next_cursor)
    )
