"""The benchmark's ceiling peer of our history endpoint: Starlette + asyncpg, written by hand.

``GET /sessions/{session_id}/messages?limit=10`` answers what the service answers there (the
same JSON fields, the page oldest first, ``next_cursor`` when older messages exist) with the
statement the service sends (ListLastMessages: the page and the throttled read stamp in
one statement), the way an experienced developer writes one endpoint without a framework
of their own: one route, one pool, SQL in a string, Records turned into dicts and encoded
by msgspec. It does nothing else: no authentication, no request log, no validation beyond
the path's UUID and the limit. The user whose session is read comes in the ``x-user-id``
header, standing for what the service learns from the bearer token, so the statement is
the service's own.

Its pool is the service's: DB_POOL_MIN_SIZE, DB_POOL_MAX_SIZE and DB_STATEMENT_CACHE_SIZE
(the service's defaults), jsonb decoded by msgspec, and no reset query on release (the
service's ``connections.keep_session_state``), so the two differ in the request path only::

    python -m tests.bench.serve tests.bench.starlette_peer:create_app --port 8000
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, TypedDict

import asyncpg
import msgspec
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

__all__ = ["create_app"]

# ListLastMessages (queries/messages.sql) with the columns the endpoint returns.
LAST_MESSAGES = """
WITH touched AS (
    UPDATE chat_sessions
    SET last_accessed_at = now()
    WHERE chat_sessions.id = $1
      AND chat_sessions.user_id = $2
      AND chat_sessions.last_accessed_at < now() - interval '60 seconds'
)
SELECT id, session_id, seq, role, status, error, content, sources, confidence, token_count,
       metadata, client_message_id, reply_to_id, chat_messages.created_at,
       chat_messages.updated_at, superseded_at, message_feedback.rating
FROM chat_messages
LEFT JOIN message_feedback
    ON message_feedback.user_id = chat_messages.user_id
   AND message_feedback.message_id = chat_messages.id
WHERE chat_messages.session_id = $1
  AND chat_messages.user_id = $2
  AND chat_messages.superseded_at IS NULL
ORDER BY chat_messages.seq DESC
LIMIT $3
"""
SESSION_EXISTS = "SELECT true FROM chat_sessions WHERE id = $1 AND user_id = $2"

MAX_LIMIT = 100


class State(TypedDict):
    pool: asyncpg.Pool[asyncpg.Record]


def _error(status: int, detail: str) -> Response:
    return Response(msgspec.json.encode({"detail": detail}), status, media_type="application/json")


async def list_messages(request: Request) -> Response:
    session_id: uuid.UUID = request.path_params["session_id"]
    try:
        user_id = uuid.UUID(request.headers["x-user-id"])
        limit = int(request.query_params.get("limit", "10"))
    except (KeyError, ValueError):
        return _error(400, "send x-user-id (a UUID) and an integer limit")
    if not 1 <= limit <= MAX_LIMIT:
        return _error(400, f"limit must be from 1 to {MAX_LIMIT}")
    pool: asyncpg.Pool[asyncpg.Record] = request.state.pool
    async with pool.acquire() as conn:
        # One row more than the page says whether older messages exist.
        rows = await conn.fetch(LAST_MESSAGES, session_id, user_id, limit + 1)
        if not rows and await conn.fetchval(SESSION_EXISTS, session_id, user_id) is None:
            return _error(404, "session not found")
    page = rows[:limit]
    body = {
        "session_id": session_id,
        "messages": [dict(row) for row in reversed(page)],
        "next_cursor": str(page[-1]["seq"]) if len(rows) > limit else None,
    }
    return Response(msgspec.json.encode(body), media_type="application/json")


def _decode_jsonb(data: bytes) -> Any:
    return msgspec.json.decode(data[1:])  # the binary format: a version byte, then the text


def _encode_jsonb(value: Any) -> bytes:
    return b"\x01" + msgspec.json.encode(value)


async def _init_connection(conn: asyncpg.Connection[asyncpg.Record]) -> None:
    await conn.set_type_codec(
        "jsonb", schema="pg_catalog", encoder=_encode_jsonb, decoder=_decode_jsonb, format="binary"
    )


async def _keep_session_state(conn: asyncpg.Connection[asyncpg.Record]) -> None:
    """No reset query on release, as the service's pool has it (nothing here sets any state)."""


@asynccontextmanager
async def lifespan(app: Starlette) -> AsyncIterator[State]:
    pool = await asyncpg.create_pool(
        os.environ["DATABASE_URL"],
        min_size=int(os.environ.get("DB_POOL_MIN_SIZE", "1")),
        max_size=int(os.environ.get("DB_POOL_MAX_SIZE", "10")),
        statement_cache_size=int(os.environ.get("DB_STATEMENT_CACHE_SIZE", "100")),
        init=_init_connection,
        reset=_keep_session_state,
    )
    try:
        yield {"pool": pool}
    finally:
        await pool.close()


def create_app() -> Starlette:
    return Starlette(
        routes=[Route("/sessions/{session_id:uuid}/messages", list_messages)], lifespan=lifespan
    )
