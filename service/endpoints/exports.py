"""Exports: GET /me/export (everything the caller owns, as one JSON document) and
GET /sessions/{session_id}/export?format=json|md, both streamed as the use case reads them.

The first item is read before the response starts, within the request's budget, so that a
missing session (404) or an unreachable database (503) is still an answer. A failure later
cuts the stream (the connection is dropped without the closing chunk), so a client never
takes a truncated export for a whole one.
"""

from __future__ import annotations

import datetime
import logging
import uuid
from collections.abc import AsyncIterator

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from .. import store
from ..json import encode
from ..schemas import (
    EXPORT_FORMAT,
    ExportQuery,
    document_out,
    export_message_out,
    export_user_out,
    session_out,
)
from ..usecases.accounts import Principal
from ..usecases.exports import DocumentsStart, ExportItem, Exports, SessionEnd

__all__ = ["export_me", "export_session"]

log = logging.getLogger("service.exports")


async def export_me(request: Request, *, user: Principal) -> Response:
    exports: Exports = request.state.exports
    items = exports.user_export(user.user_id)
    first = await anext(items)
    return _streamed(request, _user_json(first, items), "export.json", "application/json")


async def export_session(
    request: Request, *, user: Principal, session_id: uuid.UUID, query: ExportQuery
) -> Response:
    exports: Exports = request.state.exports
    items = exports.session_export(user.user_id, session_id)
    first = await anext(items)
    assert isinstance(first, store.ChatSession)
    if query.format == "md":
        body = _session_markdown(first, items)
        return _streamed(request, body, f"session-{session_id}.md", "text/markdown; charset=utf-8")
    return _streamed(request, _session_json(first, items), f"session-{session_id}.json")


def _streamed(
    request: Request,
    body: AsyncIterator[bytes],
    filename: str,
    media_type: str = "application/json",
) -> StreamingResponse:
    return StreamingResponse(
        _logged(request, body),
        media_type=media_type,
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


async def _logged(request: Request, body: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    try:
        async for piece in body:
            yield piece
    except Exception as error:
        log.warning(
            "export cut short: %s",
            type(error).__name__,
            extra={"request_id": request.state.request_id},
        )
        raise


def _header() -> bytes:
    exported_at = encode(datetime.datetime.now(datetime.UTC))
    return b'{"format":' + encode(EXPORT_FORMAT) + b',"exported_at":' + exported_at


def _open_session(session: store.ChatSession) -> bytes:
    """The session's fields, leaving its ``messages`` array open."""
    return encode(session_out(session))[:-1] + b',"messages":['


async def _user_json(first: ExportItem, items: AsyncIterator[ExportItem]) -> AsyncIterator[bytes]:
    assert isinstance(first, store.ExportedUser)
    yield _header() + b',"user":' + encode(export_user_out(first)) + b',"sessions":['
    separator = b""  # between the items of the array being written
    async for item in items:
        if isinstance(item, store.ChatSession):
            yield separator + _open_session(item)
            separator = b""
        elif isinstance(item, store.ExportedMessage):
            yield separator + encode(export_message_out(item))
            separator = b","
        elif isinstance(item, SessionEnd):
            yield b"]}"
            separator = b","
        elif isinstance(item, DocumentsStart):
            yield b'],"documents":['
            separator = b""
        elif isinstance(item, store.Document):
            yield separator + encode(document_out(item))
            separator = b","
    yield b"]}"


async def _session_json(
    session: store.ChatSession, items: AsyncIterator[ExportItem]
) -> AsyncIterator[bytes]:
    yield _header() + b',"session":' + _open_session(session)
    separator = b""
    async for item in items:
        if isinstance(item, store.ExportedMessage):
            yield separator + encode(export_message_out(item))
            separator = b","
    yield b"]}}"


async def _session_markdown(
    session: store.ChatSession, items: AsyncIterator[ExportItem]
) -> AsyncIterator[bytes]:
    title = _one_line(session.title) or "Untitled session"
    yield (
        f"# {title}\n\n"
        f"Session `{session.id}`, started {_time(session.created_at)}, "
        f"last active {_time(session.last_activity_at)}.\n"
    ).encode()
    async for item in items:
        if isinstance(item, store.ExportedMessage):
            yield _message_markdown(item).encode()


def _message_markdown(exported: store.ExportedMessage) -> str:
    message = exported.message
    parts = [f"\n## {message.role.capitalize()}, {_time(message.created_at)}\n\n"]
    if message.status == "pending":
        parts.append("_(no answer yet)_\n")
    elif message.status == "failed":
        parts.append(f"_(failed: {_one_line(message.error)})_\n")
    else:
        parts.append(message.content.rstrip() + "\n")
    if exported.citations:
        parts.append("\nSources:\n\n")
        for citation in exported.citations:
            name = _one_line(citation.document_title) or "untitled document"
            source = f"[{name}]({citation.document_url})" if citation.document_url else name
            gone = " (deleted since)" if citation.source_deleted else ""
            snippet = _one_line(citation.snippet)
            parts.append(
                f"{citation.rank}. {source}{gone}" + (f": {snippet}" if snippet else "") + "\n"
            )
    return "".join(parts)


def _one_line(text: str | None) -> str:
    return " ".join((text or "").split())


def _time(moment: datetime.datetime) -> str:
    return moment.astimezone(datetime.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
