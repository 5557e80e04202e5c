"""Request and response bodies of the HTTP API: the contract, also the source of /openapi.json.

Requests forbid unknown fields, so a misspelt field is an error rather than silently
dropped. Responses are built from the generated models by the ``*_out`` functions.
"""

from __future__ import annotations

import datetime
import uuid
from typing import Annotated, Any, Literal

import msgspec
from msgspec import UNSET, UnsetType

from . import store
from .domain import Citation, Usage

__all__ = [
    "ChatRequest",
    "ChatResponse",
    "Citation",
    "DocumentCreate",
    "DocumentList",
    "DocumentOut",
    "DocumentsQuery",
    "Health",
    "MessageList",
    "MessageOut",
    "MessagesQuery",
    "Readiness",
    "SessionCreate",
    "SessionList",
    "SessionOut",
    "SessionUpdate",
    "SessionsQuery",
    "Usage",
    "document_out",
    "message_out",
    "session_out",
]

Title = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
Metadata = dict[str, Any]
ClientMessageId = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
Cursor = Annotated[str, msgspec.Meta(min_length=1, max_length=500)]


class Input(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Base of every request body and query: unknown fields are errors."""


# --- chat ---------------------------------------------------------------------------------


class ChatRequest(Input, frozen=True):
    """``message`` (or the legacy ``query``): exactly one of them."""

    message: str | None = None
    query: str | None = None
    session_id: uuid.UUID | None = None
    client_message_id: ClientMessageId | None = None
    stream: bool = False


class ChatResponse(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    answer: str
    sources: list[Citation]
    confidence: float | None
    session_id: uuid.UUID | None  # None only when the turn could not be saved
    user_message_id: uuid.UUID | None
    assistant_message_id: uuid.UUID | None
    usage: Usage
    saved: bool  # False: the database was unreachable; the answer is not in the history
    replayed: bool = False  # True: a retry with the same client_message_id
    token: str | None = None  # a new anonymous user's credential, shown once


# --- sessions and messages ----------------------------------------------------------------


class SessionCreate(Input, frozen=True):
    title: Title | None = None
    metadata: Metadata | None = None


class SessionUpdate(Input, frozen=True):
    """Fields to change; at least one. ``metadata`` replaces the whole object."""

    title: Title | None = None
    metadata: Metadata | None = None


# Query types: ``limit`` is the route table's (a paged route). UNSET rather than None: a
# query string cannot say null.


class SessionsQuery(Input, frozen=True):
    cursor: Cursor | UnsetType = UNSET


class SessionOut(msgspec.Struct, frozen=True, kw_only=True):
    id: uuid.UUID
    title: str | None
    metadata: Metadata
    message_count: int
    created_at: datetime.datetime
    updated_at: datetime.datetime
    last_activity_at: datetime.datetime


class SessionList(msgspec.Struct, frozen=True, kw_only=True):
    sessions: list[SessionOut]  # most recently active first
    next_cursor: str | None  # pass as ?cursor= for the next page; None on the last


class MessagesQuery(Input, frozen=True):
    before: Cursor | UnsetType = UNSET


class MessageOut(msgspec.Struct, frozen=True, kw_only=True):
    id: uuid.UUID
    session_id: uuid.UUID
    seq: int
    role: store.ChatMessageRole
    status: store.ChatMessageStatus
    error: str | None
    content: str
    sources: list[Any]
    confidence: float | None
    token_count: int | None
    metadata: Metadata
    client_message_id: str | None
    reply_to_id: uuid.UUID | None
    created_at: datetime.datetime
    updated_at: datetime.datetime


class MessageList(msgspec.Struct, frozen=True, kw_only=True):
    session_id: uuid.UUID
    messages: list[MessageOut]  # oldest first
    next_cursor: str | None  # pass as ?before= for older messages; None at the start


# --- documents ----------------------------------------------------------------------------


class DocumentCreate(Input, frozen=True):
    """A JSON document: ``text`` or ``url``, exactly one (files go as multipart/form-data)."""

    text: str | None = None
    url: Annotated[str, msgspec.Meta(min_length=1, max_length=2048)] | None = None
    title: Title | None = None
    metadata: Metadata | None = None


class DocumentsQuery(Input, frozen=True):
    cursor: Cursor | UnsetType = UNSET
    scope: Literal["own", "shared"] = "own"


class DocumentOut(msgspec.Struct, frozen=True, kw_only=True):
    id: uuid.UUID
    shared: bool  # part of the shared corpus rather than the caller's own
    title: str | None
    source_url: str | None
    filename: str | None
    content_type: str | None
    checksum: str  # sha256, hex
    byte_size: int | None
    status: store.DocumentStatus
    error: str | None
    chunk_count: int
    embedding_model: str | None
    collection: str | None
    metadata: Metadata
    attempts: int
    created_at: datetime.datetime
    updated_at: datetime.datetime


class DocumentList(msgspec.Struct, frozen=True, kw_only=True):
    documents: list[DocumentOut]  # newest first
    next_cursor: str | None


# --- operations ---------------------------------------------------------------------------


class Health(msgspec.Struct, frozen=True):
    status: Literal["ok"]


class Readiness(msgspec.Struct, frozen=True):
    status: Literal["ready", "unavailable"]
    checks: dict[str, str]  # component -> "ok" or what is wrong


# --- conversions from the generated models ------------------------------------------------


def _json_object(value: Any) -> Metadata:
    return value if isinstance(value, dict) else {}


def session_out(session: store.ChatSession) -> SessionOut:
    return SessionOut(
        id=session.id,
        title=session.title,
        metadata=_json_object(session.metadata),
        message_count=session.last_seq,
        created_at=session.created_at,
        updated_at=session.updated_at,
        last_activity_at=session.last_activity_at,
    )


def message_out(message: store.ChatMessage) -> MessageOut:
    return MessageOut(
        id=message.id,
        session_id=message.session_id,
        seq=message.seq,
        role=message.role,
        status=message.status,
        error=message.error,
        content=message.content,
        sources=message.sources if isinstance(message.sources, list) else [],
        confidence=message.confidence,
        token_count=message.token_count,
        metadata=_json_object(message.metadata),
        client_message_id=message.client_message_id,
        reply_to_id=message.reply_to_id,
        created_at=message.created_at,
        updated_at=message.updated_at,
    )


def document_out(document: store.Document) -> DocumentOut:
    return DocumentOut(
        id=document.id,
        shared=document.owner_id is None,
        title=document.title,
        source_url=document.source_url,
        filename=document.filename,
        content_type=document.content_type,
        checksum=document.checksum.hex(),
        byte_size=document.byte_size,
        status=document.status,
        error=document.error,
        chunk_count=document.chunk_count,
        embedding_model=document.embedding_model,
        collection=document.collection,
        metadata=_json_object(document.metadata),
        attempts=document.attempts,
        created_at=document.created_at,
        updated_at=document.updated_at,
    )
