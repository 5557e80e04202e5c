"""Request and response bodies of the HTTP API: the contract, also the source of /openapi.json.

Requests forbid unknown fields, so a misspelt field is an error rather than silently
dropped. Responses are built from the generated models by the ``*_out`` functions.
"""

from __future__ import annotations

import datetime
import uuid
from typing import Annotated, Any, ClassVar, Literal

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
    "HistoryList",
    "HistoryMessageOut",
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
    "history_out",
    "message_out",
    "session_out",
]

JsonSchema = dict[str, Any]

# Rules the endpoints and the store check in code, as JSON Schema for /openapi.json
# (``extra_json_schema`` describes without checking: the code's messages say more than a
# regex). No string in a request may hold NUL, which PostgreSQL cannot store: openapi.py adds
# NO_NUL to every request string without a pattern of its own (the patterns exclude NUL).
NO_NUL: JsonSchema = {"pattern": r"^[^\x00]*$"}
# What str.isspace() matches, so what str.strip() removes (tests/service/test_openapi.py
# checks the list against Python's).
SPACE = r"\t\n\x0b\x0c\r\x1c-\x1f \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
NOT_BLANK = rf"^[^\x00]*[^\x00{SPACE}][^\x00]*$"

# A session as a chat widget names it (POST /chat's session_id, GET /history/{session_id}):
# one of the caller's session ids, or else a key of the client's own, per user
# (usecases.session_names). Printable: no control character (validation.check_session_name).
SESSION_NAME = r"^[^\x00-\x1f\x7f-\x9f]+$"
SESSION_NAME_SCHEMA: JsonSchema = {
    "pattern": SESSION_NAME,
    "description": "one of the caller's session ids; any other string (1 to 255 characters, "
    "no control characters) is the client's own key for a session of the caller's: the first "
    "chat turn with it starts the session, later turns and GET /history/{session_id} continue it",
}
SessionName = Annotated[
    str, msgspec.Meta(min_length=1, max_length=255, extra_json_schema=SESSION_NAME_SCHEMA)
]
NamedSession = Annotated[
    str,
    msgspec.Meta(
        description="the session as the request named it: the key it was sent as, or its id"
    ),
]
Title = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
Metadata = dict[str, Any]
ClientMessageId = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
Text = Annotated[str, msgspec.Meta(extra_json_schema={"pattern": NOT_BLANK})]  # not blank
# An http(s) URL to fetch: a host name and a valid port, if any (IP literals and user info are
# not described, though accepted). A host that resolves to a non-public address is refused
# with a 422 all the same: no pattern can say which names those are.
_PORT = r"[0-9]{1,4}|[1-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5]"
URL = (
    r"^[Hh][Tt][Tt][Pp][Ss]?://(?:[A-Za-z0-9-]{1,63}\.)*[A-Za-z][A-Za-z0-9-]{0,62}"
    rf"(?::(?:{_PORT}))?(?:[/?#][^\x00-\x20\x7f]*)?$"
)
Url = Annotated[
    str,
    msgspec.Meta(
        min_length=1,
        max_length=2048,
        extra_json_schema={
            "pattern": URL,
            "description": "refused (422) when its host resolves to a non-public address",
        },
    ),
]
# Page cursors, in the shapes store/cursors.py writes and reads (any value of the shape is a
# position to page from): a time in microseconds since the epoch and an id in hex, or a
# message's sequence number.
TimeIdCursor = Annotated[
    str,
    msgspec.Meta(
        min_length=1,
        extra_json_schema={
            "pattern": r"^(-?[0-9]{1,16}|[0-9]{17})\.[0-9a-f]{32}$",
            "description": "the next_cursor of the page before",
        },
    ),
]
SeqCursor = Annotated[
    str,
    msgspec.Meta(
        min_length=1,
        extra_json_schema={
            "pattern": r"^[1-9][0-9]{0,17}$",
            "description": "the next_cursor of the page before",
        },
    ),
]


def exactly_one(*names: str) -> JsonSchema:
    """JSON Schema for: exactly one of these fields is present and not null."""
    return {"oneOf": [_given(name) for name in names]}


def at_least_one(*names: str) -> JsonSchema:
    """JSON Schema for: at least one of these fields is present and not null."""
    return {"anyOf": [_given(name) for name in names]}


def _given(name: str) -> JsonSchema:
    return {"required": [name], "properties": {name: {"not": {"type": "null"}}}}


class Input(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Base of every request body and query: unknown fields are errors.

    ``rules``: what the fields must hold together (JSON Schema), which the endpoint checks
    and /openapi.json describes.
    """

    rules: ClassVar[JsonSchema] = {}


# --- chat ---------------------------------------------------------------------------------


class ChatRequest(Input, frozen=True):
    """``message`` (or the legacy ``query``): exactly one of them. ``session_id``: one of the
    caller's session ids, or the client's own key for a session; ``context`` (legacy): the
    text the reader selected, searched with the question and shown to the language model."""

    rules: ClassVar[JsonSchema] = exactly_one("message", "query")

    message: Text | None = None
    query: Text | None = None
    session_id: SessionName | None = None
    client_message_id: ClientMessageId | None = None
    stream: bool = False
    context: str | None = None  # at most MAX_CONTEXT_CHARS (openapi.py says so)


class ChatResponse(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    answer: str
    sources: list[Citation]
    confidence: float | None
    session_id: NamedSession | None  # None only when the turn could not be saved
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

    rules: ClassVar[JsonSchema] = at_least_one("title", "metadata")

    title: Title | None = None
    metadata: Metadata | None = None


# Query types: ``limit`` is the route table's (a paged route). UNSET rather than None: a
# query string cannot say null.


class SessionsQuery(Input, frozen=True):
    cursor: TimeIdCursor | UnsetType = UNSET


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
    next_cursor: TimeIdCursor | None  # pass as ?cursor= for the next page; None on the last


class MessagesQuery(Input, frozen=True):
    before: SeqCursor | UnsetType = UNSET


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
    next_cursor: SeqCursor | None  # pass as ?before= for older messages; None at the start


class HistoryMessageOut(MessageOut, frozen=True, kw_only=True):
    timestamp: datetime.datetime  # created_at, under the name older clients read


class HistoryList(msgspec.Struct, frozen=True, kw_only=True):
    """GET /history/{session_id}: the legacy shape of a page of messages."""

    session_id: NamedSession
    messages: list[HistoryMessageOut]  # oldest first
    next_cursor: SeqCursor | None  # pass as ?before= for older messages; None at the start


# --- documents ----------------------------------------------------------------------------


class DocumentCreate(Input, frozen=True):
    """A JSON document: ``text`` or ``url``, exactly one (files go as multipart/form-data)."""

    rules: ClassVar[JsonSchema] = exactly_one("text", "url")

    text: Text | None = None
    url: Url | None = None
    title: Title | None = None
    metadata: Metadata | None = None


class DocumentsQuery(Input, frozen=True):
    cursor: TimeIdCursor | UnsetType = UNSET
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
    next_cursor: TimeIdCursor | None


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


def history_out(name: str, page: store.MessagePage) -> HistoryList:
    """A page of messages as GET /history/{session_id} answers it, for the name it was asked by."""
    messages = [
        HistoryMessageOut(
            **msgspec.structs.asdict(message_out(message)), timestamp=message.created_at
        )
        for message in page.messages
    ]
    return HistoryList(session_id=name, messages=messages, next_cursor=page.next_cursor)


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
