"""Every route of the API, with what it accepts and answers: the app and /openapi.json read this."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from .endpoints import auth, chat, documents, ops, sessions
from .schemas import (
    ChatRequest,
    ChatResponse,
    DocumentCreate,
    DocumentList,
    DocumentOut,
    DocumentsQuery,
    Health,
    MessageList,
    MessagesQuery,
    Readiness,
    SessionCreate,
    SessionList,
    SessionOut,
    SessionsQuery,
    SessionUpdate,
)
from .validation import reject_query

__all__ = ["OPERATIONS", "Operation", "routes"]

Endpoint = Callable[[Request], Awaitable[Response]]


@dataclass(frozen=True, kw_only=True)
class Operation:
    method: Literal["GET", "POST", "PATCH", "DELETE"]
    path: str
    endpoint: Endpoint
    summary: str
    auth: Literal["required", "optional", "none"] = "required"
    body: type | None = None
    form: bool = False  # also accepts multipart/form-data (a file upload)
    query: type | None = None
    # status -> body type (None: no body; Any: a free-form JSON object)
    responses: dict[int, Any] = field(default_factory=dict)
    stream: bool = False  # the success answer may be text/event-stream
    database: bool = True  # may answer 503 when PostgreSQL is unreachable


OPERATIONS: list[Operation] = [
    Operation(
        method="POST",
        path="/chat",
        endpoint=chat.chat,
        summary="Ask a question in a session (starts one, and an anonymous user, when needed)",
        auth="optional",
        body=ChatRequest,
        responses={200: ChatResponse},
        stream=True,
    ),
    Operation(
        method="GET",
        path="/sessions",
        endpoint=sessions.list_sessions,
        summary="List the caller's sessions, most recently active first",
        query=SessionsQuery,
        responses={200: SessionList},
    ),
    Operation(
        method="POST",
        path="/sessions",
        endpoint=sessions.create_session,
        summary="Start a session",
        body=SessionCreate,
        responses={201: SessionOut},
    ),
    Operation(
        method="GET",
        path="/sessions/{session_id}",
        endpoint=sessions.get_session,
        summary="Read a session",
        responses={200: SessionOut},
    ),
    Operation(
        method="PATCH",
        path="/sessions/{session_id}",
        endpoint=sessions.update_session,
        summary="Rename a session and/or replace its metadata",
        body=SessionUpdate,
        responses={200: SessionOut},
    ),
    Operation(
        method="DELETE",
        path="/sessions/{session_id}",
        endpoint=sessions.delete_session,
        summary="Delete a session with its messages",
        responses={204: None},
    ),
    Operation(
        method="GET",
        path="/sessions/{session_id}/messages",
        endpoint=sessions.list_messages,
        summary="The last messages of a session, oldest first, with a cursor for older ones",
        query=MessagesQuery,
        responses={200: MessageList},
    ),
    Operation(
        method="GET",
        path="/history/{session_id}",
        endpoint=sessions.list_messages,
        summary="Alias of GET /sessions/{session_id}/messages for older clients",
        query=MessagesQuery,
        responses={200: MessageList},
    ),
    Operation(
        method="POST",
        path="/documents",
        endpoint=documents.create_document,
        summary="Add a document to ingest: a file (multipart), JSON text, or a URL",
        body=DocumentCreate,
        form=True,
        responses={202: DocumentOut, 200: DocumentOut},
    ),
    Operation(
        method="GET",
        path="/documents",
        endpoint=documents.list_documents,
        summary="List the caller's documents (or the shared corpus), newest first",
        query=DocumentsQuery,
        responses={200: DocumentList},
    ),
    Operation(
        method="GET",
        path="/documents/{document_id}",
        endpoint=documents.get_document,
        summary="Read a document record (the caller's own or a shared one)",
        responses={200: DocumentOut},
    ),
    Operation(
        method="DELETE",
        path="/documents/{document_id}",
        endpoint=documents.delete_document,
        summary="Delete one of the caller's documents with its chunks",
        responses={204: None},
    ),
    Operation(
        method="POST",
        path="/auth/logout",
        endpoint=auth.logout,
        summary="Revoke the credential this request presents",
        responses={204: None},
    ),
    Operation(
        method="GET",
        path="/health",
        endpoint=ops.health,
        summary="The process is up",
        auth="none",
        responses={200: Health},
        database=False,
    ),
    Operation(
        method="GET",
        path="/ready",
        endpoint=ops.ready,
        summary="PostgreSQL and Qdrant are reachable",
        auth="none",
        responses={200: Readiness, 503: Readiness},
        database=False,
    ),
    Operation(
        method="GET",
        path="/openapi.json",
        endpoint=ops.openapi,
        summary="This description of the API",
        auth="none",
        responses={200: Any},
        database=False,
    ),
]


def _dispatch(by_method: dict[str, Operation]) -> Endpoint:
    async def endpoint(request: Request) -> Response:
        operation = by_method["GET" if request.method == "HEAD" else request.method]
        if operation.query is None:
            reject_query(request.query_params)
        return await operation.endpoint(request)

    return endpoint


def routes() -> list[Route]:
    """One route per path, so a wrong method is a 405 that lists every allowed one."""
    by_path: dict[str, dict[str, Operation]] = {}
    for operation in OPERATIONS:
        by_path.setdefault(operation.path, {})[operation.method] = operation
    return [
        Route(path, _dispatch(by_method), methods=list(by_method))
        for path, by_method in by_path.items()
    ]
