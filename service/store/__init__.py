"""The store: the service's multi-query transactions, over the generated queries only.

Every function takes the database (an asyncpg pool created with
``init=store.init_connection``, or a connection, possibly inside the caller's
transaction) and, for user-owned data, the acting ``user_id``. Expected failures raise
NotFound, Conflict or InvalidInput (see ``errors``); results are the generated models or
small Structs defined here.
"""

from generated.models import (
    ChatMessage,
    ChatMessageRole,
    ChatMessageStatus,
    ChatSession,
    Document,
    DocumentStatus,
    User,
    UserCredential,
)

from ..domain import Citation
from .credentials import (
    IssuedCredential,
    create_anonymous_account,
    issue_credential,
    lookup_credential,
    revoke_credential,
)
from .deadlines import DeadlineExceeded, deadline
from .documents import (
    Chunk,
    DocumentCreated,
    DocumentPage,
    claim_document,
    complete_document,
    count_stale_documents,
    create_document,
    delete_document,
    document_statuses,
    fail_document,
    get_document,
    get_document_content,
    get_document_for_worker,
    list_completed_documents,
    list_documents,
    readable_chunk_ids,
    reindex_document,
    requeue_document,
    start_document,
)
from .errors import UNAVAILABLE, Conflict, InvalidInput, NotFound, StoreError
from .limits import RateCount, hit_rate_limit, purge_expired_rate_limits
from .messages import MessagePage, list_messages, recent_messages, session_of_client_message
from .retention import list_expired_sessions, purge_expired_sessions
from .revocations import RevocationFeed, Revoked
from .sessions import (
    SessionPage,
    create_session,
    delete_session,
    ensure_session,
    find_keyed_session,
    get_session,
    keyed_session,
    list_sessions,
    update_session,
)
from .setup import init_connection
from .turns import (
    ChatTurn,
    complete_chat_turn,
    fail_abandoned_turns,
    fail_chat_turn,
    restart_chat_turn,
    start_chat_turn,
)
from .tx import Connection, Db, Pool, exec_statement, exec_tx
from .users import (
    create_anonymous_user,
    create_user,
    delete_user,
    ensure_anonymous_user,
    identified_user,
    user_exists,
)

__all__ = [
    "UNAVAILABLE",
    "ChatMessage",
    "ChatMessageRole",
    "ChatMessageStatus",
    "ChatSession",
    "ChatTurn",
    "Chunk",
    "Citation",
    "Conflict",
    "Connection",
    "Db",
    "DeadlineExceeded",
    "Document",
    "DocumentCreated",
    "DocumentPage",
    "DocumentStatus",
    "InvalidInput",
    "IssuedCredential",
    "MessagePage",
    "NotFound",
    "Pool",
    "RateCount",
    "RevocationFeed",
    "Revoked",
    "SessionPage",
    "StoreError",
    "User",
    "UserCredential",
    "claim_document",
    "complete_chat_turn",
    "complete_document",
    "count_stale_documents",
    "create_anonymous_account",
    "create_anonymous_user",
    "create_document",
    "create_session",
    "create_user",
    "deadline",
    "delete_document",
    "delete_session",
    "delete_user",
    "document_statuses",
    "ensure_anonymous_user",
    "ensure_session",
    "exec_statement",
    "exec_tx",
    "fail_abandoned_turns",
    "fail_chat_turn",
    "fail_document",
    "find_keyed_session",
    "get_document",
    "get_document_content",
    "get_document_for_worker",
    "get_session",
    "hit_rate_limit",
    "identified_user",
    "init_connection",
    "issue_credential",
    "keyed_session",
    "list_completed_documents",
    "list_documents",
    "list_expired_sessions",
    "list_messages",
    "list_sessions",
    "lookup_credential",
    "purge_expired_rate_limits",
    "purge_expired_sessions",
    "readable_chunk_ids",
    "recent_messages",
    "reindex_document",
    "requeue_document",
    "restart_chat_turn",
    "revoke_credential",
    "session_of_client_message",
    "start_chat_turn",
    "start_document",
    "update_session",
    "user_exists",
]
