"""Request and response bodies of the HTTP API: the contract, also the source of /openapi.json.

Requests forbid unknown fields, so a misspelt field is an error rather than silently
dropped. Responses are built from the generated models by the ``*_out`` functions.
"""

from __future__ import annotations

import datetime
import html
import uuid
from typing import Annotated, Any, ClassVar, Literal

import msgspec
from msgspec import UNSET, UnsetType

from . import store
from .domain import Citation, Usage

__all__ = [
    "EXPORT_FORMAT",
    "ChatRequest",
    "ChatResponse",
    "Citation",
    "DocumentCreate",
    "DocumentList",
    "DocumentOut",
    "DocumentsQuery",
    "ExportCitation",
    "ExportIdentity",
    "ExportMessage",
    "ExportQuery",
    "ExportSession",
    "ExportUser",
    "FeedbackOut",
    "FeedbackSet",
    "Health",
    "HistoryList",
    "HistoryMessageOut",
    "IdentityOut",
    "MeCounts",
    "MeOut",
    "MessageList",
    "MessageOut",
    "MessagesQuery",
    "RatedAnswerOut",
    "Readiness",
    "RegenerateRequest",
    "SearchQuery",
    "SearchResultOut",
    "SearchResults",
    "SessionCreate",
    "SessionExport",
    "SessionList",
    "SessionOut",
    "SessionUpdate",
    "SessionsQuery",
    "Usage",
    "UserExport",
    "document_out",
    "export_message_out",
    "export_user_out",
    "feedback_out",
    "history_out",
    "me_out",
    "message_out",
    "rated_answer_out",
    "search_result_out",
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
# A search result's position: its rank (the 16 hex digits of a float's IEEE 754 bits) and id.
RankIdCursor = Annotated[
    str,
    msgspec.Meta(
        min_length=1,
        extra_json_schema={
            "pattern": r"^[0-9a-f]{16}\.[0-9a-f]{32}$",
            "description": "the next_cursor of the page before",
        },
    ),
]
SEARCH_QUERY_CHARS = 500
SearchText = Annotated[
    str,
    msgspec.Meta(
        min_length=1,
        max_length=SEARCH_QUERY_CHARS,
        extra_json_schema={
            "pattern": NOT_BLANK,
            "description": 'what a search box takes: words (all must match), "quoted phrases", '
            "-word to exclude one, `or` between alternatives; matched by stem in the server's "
            "text-search language (SEARCH_CONFIG). Only stopwords or only -words: no results",
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


class RegenerateRequest(Input, frozen=True):
    """A new answer to the question an answer replied to; the same ``client_message_id``
    again returns that new answer, never a third one."""

    client_message_id: ClientMessageId | None = None
    stream: bool = False


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
    q: SearchText | UnsetType = UNSET  # only the sessions with a message that matches


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
    # "newest": each question with its current answer only; "all": with the answers that
    # regenerated ones replaced too (superseded_at set).
    answers: Literal["newest", "all"] = "newest"


# Built positionally (message_out): a third of the cost of keywords, ten times a history read.
class MessageOut(msgspec.Struct, frozen=True):
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
    superseded_at: datetime.datetime | None  # when a regenerated answer replaced this one
    # The caller's rating of this answer (PUT /messages/{id}/feedback); None when unrated.
    rating: store.FeedbackRating | None = None


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


# --- feedback on answers -----------------------------------------------------------------

# message_feedback_comment_check's bound (db/migrations).
FEEDBACK_COMMENT_CHARS = 2000
FeedbackComment = Annotated[
    str,
    msgspec.Meta(
        max_length=FEEDBACK_COMMENT_CHARS,
        description="what the rating is about; empty or blank: no comment",
    ),
]


class FeedbackSet(Input, frozen=True):
    """A rating of an answer, replacing the caller's earlier rating and comment of it."""

    rating: store.FeedbackRating
    comment: FeedbackComment | None = None


class FeedbackOut(msgspec.Struct, frozen=True, kw_only=True):
    message_id: uuid.UUID
    rating: store.FeedbackRating
    comment: str | None
    created_at: datetime.datetime
    updated_at: datetime.datetime  # when the rating or comment last changed


class CitedPassageOut(msgspec.Struct, frozen=True, kw_only=True):
    """A passage a rated answer cited."""

    rank: int  # 1 for the best source
    document_id: uuid.UUID | None  # None once the document is deleted
    chunk_id: uuid.UUID | None
    point_id: uuid.UUID | None  # the chunk's vector in Qdrant
    score: float | None
    document_title: str | None
    document_url: str | None
    # The chunk's text; the snippet kept with the citation once the chunk is deleted.
    text: str | None


class RatedAnswerOut(msgspec.Struct, frozen=True, kw_only=True):
    """One line of GET /feedback/export: a rated answer as an evaluation set needs it."""

    message_id: uuid.UUID
    session_id: uuid.UUID
    question: str | None  # None for an answer stored without its question
    answer: str
    citations: list[CitedPassageOut]  # by rank
    rating: store.FeedbackRating
    comment: str | None
    rated_at: datetime.datetime


# --- exports (GET /me/export, GET /sessions/{session_id}/export) ----------------------------

EXPORT_FORMAT = "chathistory-export/1"


class ExportQuery(Input, frozen=True):
    format: Literal["json", "md"] = "json"  # md: a readable Markdown transcript


class ExportCitation(msgspec.Struct, frozen=True, kw_only=True):
    rank: int
    document_id: uuid.UUID | None  # None once the document is gone
    chunk_id: uuid.UUID | None
    point_id: uuid.UUID | None
    score: float | None
    document_title: str | None
    document_url: str | None
    snippet: str | None
    source_deleted: bool


class ExportMessage(MessageOut, frozen=True, kw_only=True):
    citations: list[ExportCitation]  # by rank (assistant messages)


class ExportSession(SessionOut, frozen=True, kw_only=True):
    messages: list[ExportMessage]  # oldest first


class ExportIdentity(msgspec.Struct, frozen=True, kw_only=True):
    issuer: str
    subject: str
    email: str | None
    name: str | None
    created_at: datetime.datetime
    updated_at: datetime.datetime


class ExportUser(msgspec.Struct, frozen=True, kw_only=True):
    id: uuid.UUID
    email: str | None
    name: str | None
    is_anonymous: bool
    created_at: datetime.datetime
    updated_at: datetime.datetime
    identities: list[ExportIdentity]  # external sign-ins that name this user


class UserExport(msgspec.Struct, frozen=True, kw_only=True):
    """Everything the caller owns. Streamed: sessions in creation order, documents newest first."""

    format: Literal["chathistory-export/1"]
    exported_at: datetime.datetime
    user: ExportUser
    sessions: list[ExportSession]
    documents: list[DocumentOut]


class SessionExport(msgspec.Struct, frozen=True, kw_only=True):
    format: Literal["chathistory-export/1"]
    exported_at: datetime.datetime
    session: ExportSession


# --- who am I -----------------------------------------------------------------------------


class IdentityOut(msgspec.Struct, frozen=True, kw_only=True):
    """An external identity of the caller, with what its issuer last said of it."""

    issuer: str  # JWT_ISSUER for a signed-in user; "openwebui" for a front end's user
    subject: str
    email: str | None
    name: str | None


class MeCounts(msgspec.Struct, frozen=True, kw_only=True):
    sessions: int
    messages: int
    documents: int  # the caller's private documents, not the shared corpus


class MeOut(msgspec.Struct, frozen=True, kw_only=True):
    user_id: uuid.UUID
    anonymous: bool
    # The issuer's word on the most recently updated identity (none for an anonymous user).
    email: str | None
    name: str | None
    identities: list[IdentityOut]  # the most recently updated first
    counts: MeCounts
    created_at: datetime.datetime


def me_out(profile: store.UserProfile) -> MeOut:
    identities = [
        IdentityOut(issuer=row.issuer, subject=row.subject, email=row.email, name=row.name)
        for row in profile.identities
    ]
    first = identities[0] if identities else None
    return MeOut(
        user_id=profile.user_id,
        anonymous=profile.anonymous,
        email=first.email if first else None,
        name=first.name if first else None,
        identities=identities,
        counts=MeCounts(
            sessions=profile.sessions, messages=profile.messages, documents=profile.documents
        ),
        created_at=profile.created_at,
    )


# --- search -------------------------------------------------------------------------------


class SearchQuery(Input, frozen=True):
    q: SearchText
    cursor: RankIdCursor | UnsetType = UNSET
    session_id: uuid.UUID | UnsetType = UNSET  # only this session's messages


class SearchResultOut(msgspec.Struct, frozen=True, kw_only=True):
    message_id: uuid.UUID
    session_id: uuid.UUID
    session_title: str | None
    role: store.ChatMessageRole
    # HTML: the text around the matches, escaped, each match in <mark>...</mark>.
    snippet: str
    created_at: datetime.datetime
    rank: float  # higher is better (ts_rank_cd): only comparable within one query


class SearchResults(msgspec.Struct, frozen=True, kw_only=True):
    results: list[SearchResultOut]  # best first
    next_cursor: RankIdCursor | None  # pass as ?cursor= for the next page; None on the last


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


def message_out(
    message: store.ChatMessage, rating: store.FeedbackRating | None = None
) -> MessageOut:
    sources, metadata = message.sources, message.metadata
    return MessageOut(
        message.id,
        message.session_id,
        message.seq,
        message.role,
        message.status,
        message.error,
        message.content,
        sources if isinstance(sources, list) else [],
        message.confidence,
        message.token_count,
        metadata if isinstance(metadata, dict) else {},
        message.client_message_id,
        message.reply_to_id,
        message.created_at,
        message.updated_at,
        message.superseded_at,
        rating,
    )


def history_out(name: str, page: store.MessagePage) -> HistoryList:
    """A page of messages as GET /history/{session_id} answers it, for the name it was asked by."""
    messages = [
        HistoryMessageOut(
            **msgspec.structs.asdict(message_out(message, page.ratings.get(message.id))),
            timestamp=message.created_at,
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


def feedback_out(feedback: store.Feedback) -> FeedbackOut:
    return FeedbackOut(
        message_id=feedback.message_id,
        rating=feedback.rating,
        comment=feedback.comment,
        created_at=feedback.created_at,
        updated_at=feedback.updated_at,
    )


def rated_answer_out(answer: store.RatedAnswer) -> RatedAnswerOut:
    return RatedAnswerOut(
        message_id=answer.message_id,
        session_id=answer.session_id,
        question=answer.question,
        answer=answer.answer,
        citations=[
            CitedPassageOut(**msgspec.structs.asdict(citation)) for citation in answer.citations
        ],
        rating=answer.rating,
        comment=answer.comment,
        rated_at=answer.rated_at,
    )


def export_user_out(exported: store.ExportedUser) -> ExportUser:
    user = exported.user
    return ExportUser(
        id=user.id,
        email=user.email,
        name=user.name,
        is_anonymous=user.is_anonymous,
        created_at=user.created_at,
        updated_at=user.updated_at,
        identities=[
            ExportIdentity(**msgspec.structs.asdict(identity)) for identity in exported.identities
        ],
    )


def export_message_out(exported: store.ExportedMessage) -> ExportMessage:
    citations = [
        ExportCitation(
            rank=row.rank,
            document_id=row.document_id,
            chunk_id=row.chunk_id,
            point_id=row.point_id,
            score=row.score,
            document_title=row.document_title,
            document_url=row.document_url,
            snippet=row.snippet,
            source_deleted=row.source_deleted,
        )
        for row in exported.citations
    ]
    return ExportMessage(
        **msgspec.structs.asdict(message_out(exported.message)), citations=citations
    )


def search_result_out(hit: store.SearchHit) -> SearchResultOut:
    """A hit as the API shows it: the snippet as HTML, safe to insert into a page (the
    message's own text is escaped; only the <mark> elements around matches are markup)."""
    snippet = (
        html.escape(hit.snippet, quote=False)
        .replace(store.SNIPPET_MATCH_START, "<mark>")
        .replace(store.SNIPPET_MATCH_END, "</mark>")
    )
    return SearchResultOut(
        message_id=hit.message_id,
        session_id=hit.session_id,
        session_title=hit.session_title,
        role=hit.role,
        snippet=snippet,
        created_at=hit.created_at,
        rank=hit.rank,
    )
