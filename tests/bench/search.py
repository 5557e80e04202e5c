"""Level 6: full-text search latency (GET /search's query) on a large messages table.

One user owns ``heavy`` messages among ``total``; everyone's text is drawn, word by word,
from a vocabulary of the project's own documentation (docs/*.md) with a Zipf-like skew
(a few words are everywhere, most are rare), as chat text is. The server makes the rows
(INSERT ... SELECT generate_series), the triggers filling chat_message_search as they go; its
index is dropped for the load and built again afterwards, as a DBA bulk-loads, with its
migration's definition. The measured operation is ``store.search_messages`` for the heavy
user, a first page of 20, for a two-word query drawn from the middle of the vocabulary each
call; EXPLAIN ANALYZE of one such query is printed and must read chat_message_search's
(user_id, search_vector) GIN index.
"""

from __future__ import annotations

import random
import re
import uuid
from pathlib import Path

from generated import search as search_queries
from service import store
from service.connections import open_pool
from service.settings import Settings
from service.store import Pool

from .database import empty
from .dataset import WORDS
from .stats import Operation, Row, Sample, measure, table

DOCS = Path(__file__).resolve().parents[2] / "docs"
INDEX = "chat_message_search_user_id_search_vector_idx"
INDEX_DEFINITION = f"CREATE INDEX {INDEX} ON chat_message_search USING gin (user_id, search_vector)"
MESSAGES_PER_SESSION = 100
USERS = 100  # the others share total - heavy messages
TARGET_P95_MS = 20.0

USERS_AND_SESSIONS = """
WITH users AS (
    INSERT INTO users (id, name) SELECT u.id, 'search bench' FROM unnest($1::uuid[]) AS u (id)
)
INSERT INTO chat_sessions (user_id, title, last_seq)
SELECT u.id, 'search bench', $3::int
FROM unnest($1::uuid[], $2::int[]) AS u (id, sessions), generate_series(1, u.sessions)
"""
# One user's messages: 6 to 45 words each, word k of the vocabulary with a probability
# falling as 1/k.
MESSAGES = """
INSERT INTO chat_messages (session_id, user_id, seq, role, content)
SELECT s.id, s.user_id, n, CASE WHEN n % 2 = 1 THEN 'user' ELSE 'assistant' END,
       (SELECT string_agg(($3::text[])[floor(power(cardinality($3::text[]), random()))::int], ' ')
        FROM generate_series(1, 6 + (n * 7 + s.salt) % 40))
FROM (SELECT id, user_id, ('x' || left(md5(id::text), 6))::bit(24)::int AS salt
      FROM chat_sessions WHERE user_id = $1) AS s,
     generate_series(1, $2::int) AS n
"""


def vocabulary() -> list[str]:
    """The bench's words, most common first: the data set's chat words, then every other word
    of docs/*.md by how often it occurs there."""
    counts: dict[str, int] = {}
    for path in sorted(DOCS.glob("*.md")):
        for word in re.findall(r"[a-z]{3,}", path.read_text().lower()):
            counts[word] = counts.get(word, 0) + 1
    words = [w.lower() for w in WORDS]
    words += sorted((w for w in counts if w not in words), key=lambda w: (-counts[w], w))
    return words


async def run(url: str, total: int, heavy: int, seconds: float, warmup: float) -> str:
    await empty(url)
    pool = await open_pool(Settings(database_url=url, db_pool_min_size=8, db_pool_max_size=8))
    try:
        words = vocabulary()
        heavy_user = await _load(pool, total, heavy, words)
        queries = _queries(words)
        plan = await _plan(pool, heavy_user, queries[0])
        results: dict[int, Sample] = {}
        for concurrency in (1, 8):
            operation = _search(pool, heavy_user, queries)
            await measure(operation, concurrency=concurrency, seconds=warmup)
            results[concurrency] = await measure(
                operation, concurrency=concurrency, seconds=seconds
            )
        matches = await _matches(pool, heavy_user, queries[:50])
    finally:
        await pool.close()
    return _report(results, total, heavy, len(words), matches, plan)


async def _load(pool: Pool, total: int, heavy: int, words: list[str]) -> uuid.UUID:
    rng = random.Random(6)
    users = [uuid.UUID(int=rng.getrandbits(128), version=4) for _ in range(USERS + 1)]
    others = (total - heavy) // MESSAGES_PER_SESSION
    sessions = [heavy // MESSAGES_PER_SESSION] + [
        others // USERS + (1 if u < others % USERS else 0) for u in range(USERS)
    ]
    async with pool.acquire() as conn:
        await conn.execute(f"DROP INDEX IF EXISTS {INDEX}")
        await conn.execute(USERS_AND_SESSIONS, users, sessions, MESSAGES_PER_SESSION)
        for user_id in users:  # a statement per user: each within a bounded time
            await conn.execute(MESSAGES, user_id, MESSAGES_PER_SESSION, words, timeout=600)
        await conn.execute("SET maintenance_work_mem = '256MB'")
        await conn.execute(INDEX_DEFINITION, timeout=600)
        await conn.execute("VACUUM ANALYZE chat_messages, chat_message_search", timeout=600)
    return users[0]


def _queries(words: list[str]) -> list[str]:
    """Two-word queries from the middle of the vocabulary (ranks 30 to 300): words a user
    would look for, found in some but not most messages."""
    rng = random.Random(7)
    middle = words[30:300]
    return [" ".join(rng.sample(middle, 2)) for _ in range(1000)]


def _search(pool: Pool, user_id: uuid.UUID, queries: list[str]) -> Operation:
    async def search(n: int) -> object:
        return await store.search_messages(
            pool, user_id, config="english", query=queries[n % len(queries)], limit=20
        )

    return search


async def _plan(pool: Pool, user_id: uuid.UUID, query: str) -> str:
    """EXPLAIN ANALYZE of one search, as the store sends it (generic parameters)."""
    async with pool.acquire() as conn:
        rows = await conn.fetch(
            "EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) " + search_queries.SEARCH_MESSAGES,
            "english",
            user_id,
            query,
            None,
            None,
            None,
            21,
        )
    plan = "\n".join(row[0] for row in rows)
    if INDEX not in plan:
        raise AssertionError(f"the search did not read {INDEX}:\n{plan}")
    return plan


async def _matches(pool: Pool, user_id: uuid.UUID, queries: list[str]) -> list[int]:
    counts = []
    async with pool.acquire() as conn:
        for query in queries:
            counts.append(
                await conn.fetchval(
                    "SELECT count(*) FROM chat_message_search WHERE user_id = $1"
                    " AND search_vector @@ websearch_to_tsquery('english', $2)",
                    user_id,
                    query,
                )
            )
    return sorted(counts)


def _report(
    results: dict[int, Sample],
    total: int,
    heavy: int,
    vocabulary_size: int,
    matches: list[int],
    plan: str,
) -> str:
    rows = [Row(f"concurrency {c}", sample, {}) for c, sample in results.items()]
    title = (
        f"search one user's {heavy:,} messages among {total:,}: a two-word query, "
        "first page of 20 with snippets (store.search_messages)"
    )
    p95 = results[1].percentile_ms(0.95)
    met = "met" if p95 < TARGET_P95_MS else "MISSED"
    median = matches[len(matches) // 2]
    return (
        table(title, rows)
        + f"\nVocabulary: {vocabulary_size:,} words; matches per query (50 queries): "
        f"median {median:,}, max {matches[-1]:,}.\n"
        + f"Target: p95 < {TARGET_P95_MS:g} ms at concurrency 1: **{met}** ({p95:.2f} ms).\n\n"
        + "EXPLAIN (ANALYZE, BUFFERS) of one search:\n\n```\n"
        + plan
        + "\n```\n"
    )
