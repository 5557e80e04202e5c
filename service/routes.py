"""Every route of the API, with what it accepts and answers: the app and /openapi.json read this.

What a route declares is applied here, once, before its endpoint runs: the credential
(``auth``), path ids (UUIDs, or session names for those listed in ``keys``), the query
(``query``, with ``limit`` for a ``paged`` route), the JSON body (``body``) and the abuse
limits (``rate``). The endpoint receives them as keyword arguments: ``user``, each path id by
name, ``query``, ``limit``, ``body``. With ``auth="optional"`` the user is None without a
credential (401 instead when ANONYMOUS_ACCESS is off), and Unidentified when the database
could not check one. With LEGACY_TOKENLESS_SESSIONS on, a route that declares ``tokenless``
takes the session key it names in place of a missing credential: the user is then the one
the key stands for (``Accounts.key_holder``).

Once a JSON body is received, all the database work of the request shares one budget,
DB_REQUEST_BUDGET (``store.deadline``): past it, a 503.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from . import store
from .endpoints import (
    auth,
    chat,
    documents,
    erasure,
    exports,
    feedback,
    me,
    openai,
    ops,
    search,
    sessions,
)
from .errors import error_for
from .identity import Identity, unauthorized
from .openai_schemas import ChatCompletion, ChatCompletionRequest, ModelList
from .schemas import (
    ChatRequest,
    ChatResponse,
    DocumentCreate,
    DocumentList,
    DocumentOut,
    DocumentsQuery,
    ExportQuery,
    FeedbackOut,
    FeedbackSet,
    Health,
    HistoryList,
    MeOut,
    MessageList,
    MessagesQuery,
    RatedAnswerOut,
    Readiness,
    RegenerateRequest,
    SearchQuery,
    SearchResults,
    SessionCreate,
    SessionExport,
    SessionList,
    SessionOut,
    SessionsQuery,
    SessionUpdate,
    UserExport,
)
from .usecases.accounts import Accounts, KeyRefused, Principal, Unidentified
from .usecases.limits import Limits
from .validation import (
    decode_json,
    decode_query,
    page_size,
    path_session_name,
    path_uuid,
    query_params,
    reject_query,
)

__all__ = ["OPERATIONS", "Operation", "routes"]

Endpoint = Callable[..., Awaitable[Response]]
# "new_anonymous_user": without a credential the endpoint creates a user, limited per client
# address (ANON_USERS_PER_ADDRESS_PER_HOUR); "chat_turn": per user (CHAT_TURNS_PER_USER_PER_MINUTE).
Rate = Literal["new_anonymous_user", "chat_turn"]
PATH_PARAMETER = re.compile(r"{([a-z_]+)}")  # a UUID, unless the operation lists it in keys


@dataclass(frozen=True)
class KeyField:
    """Where a request names its session by a key: a path parameter or a body field."""

    location: Literal["path", "body"]
    name: str

    def read(self, arguments: dict[str, Any]) -> str | None:
        if self.location == "path":
            value = arguments[self.name]
        else:
            value = getattr(arguments["body"], self.name)
        return value if isinstance(value, str) else None


@dataclass(frozen=True, kw_only=True)
class Operation:
    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE"]
    path: str
    endpoint: Endpoint
    summary: str
    auth: Literal["required", "optional", "none"] = "required"
    body: type | None = None
    form: bool = False  # also accepts multipart/form-data (a file upload)
    query: type | None = None
    paged: bool = False  # takes ?limit= (1..MAX_PAGE_SIZE, default DEFAULT_PAGE_SIZE)
    # status -> body type (None: no body; Any: a free-form JSON object)
    responses: dict[int, Any] = field(default_factory=dict)
    stream: bool = False  # the success answer may be text/event-stream
    markdown: bool = False  # the success answer may be text/markdown (?format=md)
    lines: bool = False  # the success answer is JSON Lines, one 200 body a line
    database: bool = True  # may answer 503 when PostgreSQL is unreachable
    errors: tuple[int, ...] = ()  # error statuses beyond those the declarations above imply
    rate: tuple[Rate, ...] = ()  # abuse limits checked before the endpoint runs (429)
    # "openai": errors in OpenAI's shape ({"error": {"message", "type", "param", "code"}})
    dialect: Literal["native", "openai"] = "native"
    # Path parameters that name a session as chat widgets do: one of the caller's session ids
    # or the client's own key (any string of 1..255 characters without control characters).
    keys: tuple[str, ...] = ()
    # With LEGACY_TOKENLESS_SESSIONS on, the session key that may stand for a missing credential.
    tokenless: KeyField | None = None

    @functools.cached_property
    def path_ids(self) -> list[str]:
        return PATH_PARAMETER.findall(self.path)


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
        errors=(409, 502),
        rate=("new_anonymous_user", "chat_turn"),
        tokenless=KeyField("body", "session_id"),
    ),
    Operation(
        method="POST",
        path="/messages/{message_id}/regenerate",
        endpoint=chat.regenerate,
        summary="Answer again the question one of the caller's answers replied to: a new answer "
        "with the session's next seq, replying to the same question, which supersedes the "
        "earlier one (GET /sessions/{session_id}/messages?answers=all still lists it). The same "
        "client_message_id again returns the same new answer; a question: 422; an answer still "
        "being written, or superseded already: 409",
        body=RegenerateRequest,
        responses={200: ChatResponse},
        stream=True,
        errors=(409, 502),
        rate=("chat_turn",),
    ),
    Operation(
        method="GET",
        path="/sessions",
        endpoint=sessions.list_sessions,
        summary="List the caller's sessions, most recently active first (with `q`: only those "
        "holding a message that matches it, as GET /search matches)",
        query=SessionsQuery,
        paged=True,
        responses={200: SessionList},
    ),
    Operation(
        method="GET",
        path="/search",
        endpoint=search.search,
        summary="Search the caller's own messages (full text: words, quoted phrases, -excluded "
        "words, or), best match first, each with a highlighted snippet",
        query=SearchQuery,
        paged=True,
        responses={200: SearchResults},
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
        summary="The last messages of a session, oldest first, with a cursor for older ones; "
        "each question with its newest answer only, unless ?answers=all (answers replaced by a "
        "regenerated one too, with superseded_at set)",
        query=MessagesQuery,
        paged=True,
        responses={200: MessageList},
    ),
    Operation(
        method="GET",
        path="/sessions/{session_id}/export",
        endpoint=exports.export_session,
        summary="Export one of the caller's sessions with its messages and their citations: "
        "JSON (default) or, with ?format=md, a readable Markdown transcript; streamed",
        query=ExportQuery,
        responses={200: SessionExport},
        markdown=True,
    ),
    Operation(
        method="GET",
        path="/history/{session_id}",
        endpoint=sessions.history,
        summary="For older clients: GET /sessions/{session_id}/messages of a session named by "
        "its id or the client's own key, each message also with its `timestamp`",
        query=MessagesQuery,
        paged=True,
        responses={200: HistoryList},
        keys=("session_id",),
        tokenless=KeyField("path", "session_id"),
    ),
    Operation(
        method="POST",
        path="/documents",
        endpoint=documents.create_document,
        summary="Add a document to ingest: a file (multipart), JSON text, or a URL",
        body=DocumentCreate,
        form=True,
        responses={202: DocumentOut, 200: DocumentOut},
        errors=(429,),  # uploads per user per day (count and bytes)
    ),
    Operation(
        method="GET",
        path="/documents",
        endpoint=documents.list_documents,
        summary="List the caller's documents (or the shared corpus), newest first",
        query=DocumentsQuery,
        paged=True,
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
        method="PUT",
        path="/messages/{message_id}/feedback",
        endpoint=feedback.set_feedback,
        summary="Rate one of the caller's answers, up or down with an optional comment, "
        "replacing an earlier rating of it (a question: 422; an answer not complete: 409)",
        body=FeedbackSet,
        responses={200: FeedbackOut},
        errors=(409,),
    ),
    Operation(
        method="DELETE",
        path="/messages/{message_id}/feedback",
        endpoint=feedback.delete_feedback,
        summary="Delete the caller's rating of an answer",
        responses={204: None},
    ),
    Operation(
        method="GET",
        path="/feedback/export",
        endpoint=feedback.export_feedback,
        summary="The caller's rated answers as JSON Lines, one a line: the question, the "
        "answer, the passages it cited with their text, the rating and comment",
        responses={200: RatedAnswerOut},
        lines=True,
    ),
    Operation(
        method="GET",
        path="/me/export",
        endpoint=exports.export_me,
        summary="Export everything the caller owns as one JSON document (their record, "
        "sessions with messages and citations, document records); streamed",
        responses={200: UserExport},
    ),
    Operation(
        method="GET",
        path="/me",
        endpoint=me.me,
        summary="Who the caller is: their user id, whether anonymous, the identities they "
        "signed in with (issuer, subject, email, name) and how many sessions, messages and "
        "documents they hold. With a sign-in token and an anonymous credential "
        "(X-Anonymous-Token, or the cookie), the anonymous history is claimed first (409: the "
        "credential's user is not anonymous)",
        responses={200: MeOut},
        errors=(409,),
    ),
    Operation(
        method="DELETE",
        path="/me",
        endpoint=erasure.delete_me,
        summary="Erase the caller: every session, message, document (with its stored content "
        "and vectors) and credential; audit rows keep only the fact. 204 when done; 202 when "
        "the vector store's part is queued (a durable job retried until done)",
        responses={204: None, 202: None},
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
        path="/v1/models",
        endpoint=openai.models,
        summary="OpenAI-compatible: the one model this service answers as",
        responses={200: ModelList},
        dialect="openai",
    ),
    Operation(
        method="POST",
        path="/v1/chat/completions",
        endpoint=openai.chat_completions,
        summary="OpenAI-compatible chat completion: the last message answered as a chat turn, "
        "stored in the conversation's session",
        body=ChatCompletionRequest,
        responses={200: ChatCompletion},
        stream=True,
        errors=(404, 409, 502),
        rate=("chat_turn",),
        dialect="openai",
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


async def _arguments(operation: Operation, request: Request) -> dict[str, Any]:
    """The endpoint's keyword arguments, from what the operation declares."""
    arguments: dict[str, Any] = {}
    user: Principal | Unidentified | None = None
    state = request.state
    settings = state.settings
    # The session key that may stand for a missing credential (LEGACY_TOKENLESS_SESSIONS).
    tokenless = operation.tokenless if settings.legacy_tokenless_sessions else None
    if operation.auth != "none":
        identity: Identity = state.identity
        state.identity = identity = identity.for_request(request)
        try:
            user = await identity.authenticate(request)
        except store.UNAVAILABLE:
            if operation.auth == "required":
                raise  # 503
            user = Unidentified()  # the endpoint decides what it can do without the caller
        if user is None and operation.auth == "required" and tokenless is None:
            raise unauthorized("authentication required: send 'Authorization: Bearer <token>'")
        if user is None and not settings.anonymous_access:
            raise unauthorized(
                "anonymous access is off on this server: send 'Authorization: Bearer <token>'"
            )
        state.user_id = user.user_id if isinstance(user, Principal) else None
        arguments["user"] = user
    for name in operation.path_ids:
        if name in operation.keys:
            arguments[name] = path_session_name(request, name)
        else:
            arguments[name] = path_uuid(request, name)
    params = query_params(request.scope["query_string"])
    if operation.paged:
        arguments["limit"] = page_size(params.pop("limit", None), settings)
    if operation.query is not None:
        arguments["query"] = decode_query(params, operation.query)
    else:
        reject_query(params)
    if operation.body is not None:
        multipart = operation.form and _multipart(request)
        # A form upload is read by its endpoint, which streams the file.
        arguments["body"] = None if multipart else await decode_json(request, operation.body)
    if user is None and operation.auth != "none" and tokenless is not None:
        user = await _key_holder(operation, tokenless, request, arguments)
        arguments["user"] = user
    if operation.rate:
        await _limit(operation, request, user)
    return arguments


async def _key_holder(
    operation: Operation, field: KeyField, request: Request, arguments: dict[str, Any]
) -> Principal | Unidentified | None:
    """Without a credential, the user the request's session key stands for (started by a
    chat turn, never by a read): LEGACY_TOKENLESS_SESSIONS is on. None without a key (401
    for a route that requires a credential); 401 for a key that cannot stand for one."""
    key = field.read(arguments)
    accounts: Accounts = request.state.accounts
    admit: Callable[[], Awaitable[None]] | None = None
    if "new_anonymous_user" in operation.rate:  # a chat turn may start the key's user
        limits: Limits = request.state.limits
        address = request.client.host if request.client else None
        admit = functools.partial(limits.new_anonymous_user, address)
    holder: Principal | Unidentified | None = None
    try:
        if key is not None:
            holder = await accounts.key_holder(
                key, admit=admit, request_id=request.state.request_id
            )
    except KeyRefused as refused:
        details = {"location": field.location, "field": field.name}
        raise unauthorized(f"{field.location} field `{field.name}`: {refused}", details) from None
    except store.UNAVAILABLE:
        if operation.auth == "required":
            raise  # 503
        holder = Unidentified()
    if holder is None and operation.auth == "required":
        raise unauthorized("authentication required: send 'Authorization: Bearer <token>'")
    request.state.user_id = holder.user_id if isinstance(holder, Principal) else None
    return holder


def _multipart(request: Request) -> bool:
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    return media_type == "multipart/form-data"


async def _limit(
    operation: Operation, request: Request, user: Principal | Unidentified | None
) -> None:
    """The operation's abuse limits, counted once the request is otherwise acceptable: 429
    when one is used up. Without a credential the client address counts (the socket peer,
    or the first untrusted X-Forwarded-For hop behind TRUSTED_PROXIES)."""
    limits: Limits = request.state.limits
    if user is None and "new_anonymous_user" in operation.rate:
        await limits.new_anonymous_user(request.client.host if request.client else None)
    if isinstance(user, Principal) and "chat_turn" in operation.rate:
        await limits.chat_turn(user.user_id)


def handler(operation: Operation) -> Endpoint:
    """The operation as a request handler: its declarations applied, then its endpoint."""
    if operation.dialect == "native":
        return functools.partial(_answer, operation)

    async def in_openai_shape(request: Request) -> Response:
        try:
            return await _answer(operation, request)
        except Exception as error:
            return openai.as_openai(await error_for(request, error))

    return in_openai_shape


def _dispatch(by_method: dict[str, Operation]) -> Endpoint:
    handlers = {method: handler(operation) for method, operation in by_method.items()}

    async def endpoint(request: Request) -> Response:
        return await handlers["GET" if request.method == "HEAD" else request.method](request)

    return endpoint


async def _answer(operation: Operation, request: Request) -> Response:
    if operation.body is not None and not _multipart(request):
        # Received before the budget starts: a slow client is not the database's time.
        await request.body()
    state = request.state
    with store.deadline(state.settings.db_request_budget):
        response = await operation.endpoint(request, **await _arguments(operation, request))
    # From the state's dict: a getattr of a name never set costs an AttributeError.
    if request.scope["state"].get("forget_credential"):
        # A sign-in token came with the anonymous cookie, which its claim left naming no one.
        identity: Identity = state.identity
        identity.forget(response)
    return response


def routes() -> list[Route]:
    """One route per path, so a wrong method is a 405 that lists every allowed one."""
    by_path: dict[str, dict[str, Operation]] = {}
    for operation in OPERATIONS:
        by_path.setdefault(operation.path, {})[operation.method] = operation
    return [
        Route(_route_path(path, by_method.values()), _dispatch(by_method), methods=list(by_method))
        for path, by_method in by_path.items()
    ]


def _route_path(path: str, operations: Iterable[Operation]) -> str:
    """The path as Starlette matches it: a session name may hold "/" (sent as %2F, which
    arrives decoded), so it takes the rest of the path."""
    for name in {name for operation in operations for name in operation.keys}:
        path = path.replace(f"{{{name}}}", f"{{{name}:path}}")
    return path
