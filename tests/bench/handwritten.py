"""The level-1 operations written by hand with asyncpg, the way an experienced developer
would without a code generator: plain SQL strings, Records, a transaction per write, the
idempotency check and the sequence bump as separate statements."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

import asyncpg
import msgspec

from service.store import Citation

EXISTING = """
SELECT * FROM chat_messages
WHERE session_id = $1 AND user_id = $2 AND client_message_id = $3
"""
# Locks the session row, so concurrent appends to one session take turns.
NEXT_SEQ = """
UPDATE chat_sessions SET last_seq = last_seq + 1, last_activity_at = now()
WHERE id = $1 AND user_id = $2
RETURNING last_seq
"""
INSERT = """
INSERT INTO chat_messages
    (session_id, user_id, seq, role, status, content, sources, confidence, client_message_id)
VALUES ($1, $2, $3, $4, 'complete', $5, $6, $7, $8)
RETURNING *
"""
LAST_10 = """
SELECT * FROM chat_messages
WHERE session_id = $1 AND user_id = $2
ORDER BY seq DESC
LIMIT 10
"""
SESSION_EXISTS = "SELECT true FROM chat_sessions WHERE id = $1 AND user_id = $2"
TOUCH = """
UPDATE chat_sessions SET last_accessed_at = now()
WHERE id = $1 AND user_id = $2 AND last_accessed_at < now() - interval '60 seconds'
"""
CITE = """
INSERT INTO message_citations (
    message_id, user_id, rank, document_id, chunk_id, point_id, score,
    document_title, document_url, snippet
)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
"""


class HandwrittenLayer:
    name = "hand-written asyncpg"

    def __init__(self, pool: asyncpg.Pool[asyncpg.Record]) -> None:
        self.pool = pool

    async def append(
        self, user_id: uuid.UUID, session_id: uuid.UUID, content: str, client_message_id: str
    ) -> object:
        async with self.pool.acquire() as conn, conn.transaction():
            return await _append(conn, user_id, session_id, "user", content, client_message_id)

    async def last10(self, user_id: uuid.UUID, session_id: uuid.UUID) -> Sequence[object]:
        async with self.pool.acquire() as conn:
            return await _last10(conn, user_id, session_id)

    async def turn(
        self,
        user_id: uuid.UUID,
        session_id: uuid.UUID,
        *,
        question: str,
        client_message_id: str,
        answer: str,
        confidence: float,
        citations: Sequence[Citation],
    ) -> object:
        async with self.pool.acquire() as conn:
            async with conn.transaction():
                await _append(conn, user_id, session_id, "user", question, client_message_id)
            await _last10(conn, user_id, session_id)
            async with conn.transaction():
                reply = await _append(
                    conn, user_id, session_id, "assistant", answer, None, confidence, citations
                )
                await conn.executemany(
                    CITE, [_citation_row(reply["id"], user_id, c) for c in citations]
                )
            return reply

    async def close(self) -> None:
        await self.pool.close()


def _citation_row(message_id: uuid.UUID, user_id: uuid.UUID, c: Citation) -> tuple[object, ...]:
    return (
        message_id, user_id, c.rank, c.document_id, c.chunk_id, c.point_id, c.score,
        c.document_title, c.document_url, c.snippet,
    )  # fmt: skip


async def _append(
    conn: asyncpg.pool.PoolConnectionProxy[asyncpg.Record],
    user_id: uuid.UUID,
    session_id: uuid.UUID,
    role: str,
    content: str,
    client_message_id: str | None,
    confidence: float | None = None,
    citations: Sequence[Citation] = (),
) -> asyncpg.Record:
    if client_message_id is not None:
        existing = await conn.fetchrow(EXISTING, session_id, user_id, client_message_id)
        if existing is not None:
            return existing
    seq = await conn.fetchval(NEXT_SEQ, session_id, user_id)
    if seq is None:
        raise LookupError("session not found")
    sources = msgspec.to_builtins(citations)
    row = await conn.fetchrow(
        INSERT, session_id, user_id, seq, role, content, sources, confidence, client_message_id
    )
    assert row is not None
    return row


async def _last10(
    conn: asyncpg.pool.PoolConnectionProxy[asyncpg.Record],
    user_id: uuid.UUID,
    session_id: uuid.UUID,
) -> list[asyncpg.Record]:
    rows = await conn.fetch(LAST_10, session_id, user_id)
    if not rows and await conn.fetchval(SESSION_EXISTS, session_id, user_id) is None:
        raise LookupError("session not found")
    await conn.execute(TOUCH, session_id, user_id)
    return rows[::-1]
