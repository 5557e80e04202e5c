"""The benchmark data set: users, their sessions and messages, loaded through :copyfrom.

Message lengths follow a chat assistant's: short questions (median about 80 characters)
and longer answers (median about 700), both log-normal with a long tail.
"""

from __future__ import annotations

import datetime
import random
import uuid
from dataclasses import dataclass, field

from generated import messages, sessions, users
from service import store
from service.store import Pool

WORDS = [
    "the",
    "a",
    "to",
    "of",
    "and",
    "in",
    "is",
    "for",
    "how",
    "what",
    "can",
    "I",
    "my",
    "with",
    "does",
    "it",
    "be",
    "on",
    "this",
    "that",
    "not",
    "when",
    "session",
    "message",
    "token",
    "database",
    "query",
    "index",
    "retry",
    "answer",
    "question",
    "document",
    "chunk",
    "search",
    "vector",
    "embedding",
    "citation",
    "source",
    "user",
    "history",
    "order",
    "page",
    "cursor",
    "latency",
    "postgres",
    "qdrant",
    "pool",
    "connection",
    "timeout",
    "error",
    "status",
    "pending",
    "complete",
    "failed",
    "stream",
    "please",
    "explain",
    "why",
    "where",
    "which",
    "should",
    "would",
    "could",
    "configure",
    "deploy",
    "schema",
    "migration",
]


def text(rng: random.Random, median_chars: int, cap: int) -> str:
    target = min(cap, max(8, int(rng.lognormvariate(0, 0.6) * median_chars)))
    parts: list[str] = []
    length = 0
    while length < target:
        word = rng.choice(WORDS)
        parts.append(word)
        length += len(word) + 1
    return " ".join(parts).capitalize() + "."


def question(rng: random.Random) -> str:
    return text(rng, 80, 600)


def answer(rng: random.Random) -> str:
    return text(rng, 700, 4000)


@dataclass
class Dataset:
    sessions: list[tuple[uuid.UUID, uuid.UUID]] = field(default_factory=list)  # (user, session)
    tokens: dict[uuid.UUID, str] = field(default_factory=dict)  # user -> bearer token
    citations: list[store.Citation] = field(default_factory=list)
    messages: int = 0


async def load(
    pool: Pool,
    *,
    users_count: int,
    sessions_per_user: int,
    messages_per_session: int,
    seed: int = 1,
    tokens: bool = False,
) -> Dataset:
    """Append a data set (ids are fresh, so loads add up); tokens issues one per user."""
    rng = random.Random(seed)
    questions = [question(rng) for _ in range(2048)]
    answers = [answer(rng) for _ in range(2048)]
    start = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)
    minute = datetime.timedelta(minutes=1)
    data = Dataset()
    user_rows, session_rows = [], []
    for u in range(users_count):
        user_id = uuid.UUID(int=rng.getrandbits(128), version=4)
        user_rows.append(users.CopyUsersParams(user_id, None, f"bench user {u}", start))
        for _ in range(sessions_per_user):
            session_id = uuid.UUID(int=rng.getrandbits(128), version=4)
            began = start + datetime.timedelta(seconds=rng.randrange(300 * 86400))
            data.sessions.append((user_id, session_id))
            session_rows.append(
                sessions.CopySessionsParams(
                    session_id,
                    user_id,
                    rng.choice(questions)[:80],
                    began,
                    began + messages_per_session * minute,
                    messages_per_session,
                )
            )
    async with pool.acquire() as conn, conn.transaction():
        await users.copy_users(conn, user_rows)
        await sessions.copy_sessions(conn, session_rows)
        batch: list[messages.CopyMessagesParams] = []
        for row in session_rows:
            for seq in range(1, messages_per_session + 1):
                asked = seq % 2 == 1
                batch.append(
                    messages.CopyMessagesParams(
                        row.id,
                        row.user_id,
                        seq,
                        "user" if asked else "assistant",
                        rng.choice(questions if asked else answers),
                        row.created_at + seq * minute,
                    )
                )
            # Each COPY within the pool's command timeout: the chat_message_search trigger and
            # its index cost 0.1 to 1 ms a message (to_tsvector: its length, the load).
            if len(batch) >= 2_000:
                data.messages += await messages.copy_messages(conn, batch)
                batch.clear()
        data.messages += await messages.copy_messages(conn, batch)
    if tokens:
        for user_row in user_rows:
            issued = await store.issue_credential(pool, user_row.id, ttl=datetime.timedelta(days=1))
            data.tokens[user_row.id] = issued.token
    data.citations = await _cited_chunks(pool)
    async with pool.acquire() as conn:
        await conn.execute("ANALYZE")
    return data


async def _cited_chunks(pool: Pool) -> list[store.Citation]:
    """Three chunks of one shared document, for the citations a turn stores."""
    async with pool.acquire() as conn:
        document_id: uuid.UUID = await conn.fetchval(
            """
            INSERT INTO documents (title, checksum, content_type, byte_size, status)
            VALUES ('Bench guide', sha256(random()::text::bytea), 'text/markdown', 3000, 'completed')
            RETURNING id
            """
        )
        rows = await conn.fetch(
            """
            INSERT INTO document_chunks
                (document_id, chunk_index, point_id, content, char_start, char_end)
            SELECT $1, i, gen_random_uuid(), 'chunk ' || i, i * 1000, i * 1000 + 999
            FROM generate_series(0, 2) AS i
            RETURNING id, point_id, chunk_index
            """,
            document_id,
        )
    return [
        store.Citation(
            rank=row["chunk_index"] + 1,
            document_id=document_id,
            chunk_id=row["id"],
            point_id=row["point_id"],
            score=0.9 - 0.1 * row["chunk_index"],
            document_title="Bench guide",
            document_url=None,
            snippet="A passage the answer used, as shown beside the citation.",
        )
        for row in rows
    ]
