"""The search migrations reach a live table of 10^5 messages without stopping its writes.

A database migrated up to just before the search migrations holds 10^5 messages, 1,000 of
them pending answers (content ''); two writers keep appending messages and a third completes
the pending answers (with SQL from before the migrations, as the running service's) while
dbmate applies them: the chat_message_search table and its triggers, the batched backfill,
the GIN index built CONCURRENTLY. The writers go on during the backfill and during the index
build, no write waits longer than the lock_timeout (plus a margin for a busy machine), and
afterwards every message with words, old, written or completed meanwhile, has the row the
triggers would give it and is found through the index; no message row was rewritten (the
same xmin: the backfill only inserts into the side table).
"""

from __future__ import annotations

import asyncio
import itertools
import random
import shutil
import time
import uuid
from pathlib import Path
from typing import Any

import asyncpg
import psycopg
import pytest
from psycopg import sql

from generated import search
from tests.conftest import MIGRATIONS, Cluster
from tests.db.test_migration_on_live_table import dbmate_up

pytestmark = pytest.mark.anyio

SEARCH_MIGRATIONS = (
    "_create_chat_message_search.sql",
    "_backfill_chat_message_search.sql",
    "_create_chat_message_search_index.sql",
)
INDEX = "chat_message_search_user_id_search_vector_idx"
LOCK_TIMEOUT = 2.0  # seconds, as the migrations set it
MARGIN = 1.5  # seconds: scheduling noise on a busy two-core machine
SESSIONS, PER_SESSION = 1000, 100  # 10^5 messages

# Each message names itself (w<n>) among words drawn from a list, so texts vary; each
# session's last message is an answer still being written.
LOAD = f"""
INSERT INTO users (id) VALUES ('{{user_id}}');
INSERT INTO chat_sessions (user_id, title, last_seq)
SELECT '{{user_id}}', 'session ' || n, {PER_SESSION} FROM generate_series(1, {SESSIONS}) AS n;
INSERT INTO chat_messages (session_id, user_id, seq, role, status, content)
SELECT s.id, s.user_id, n,
       CASE WHEN n % 2 = 1 THEN 'user' ELSE 'assistant' END,
       CASE WHEN n = {PER_SESSION} THEN 'pending' ELSE 'complete' END,
       CASE WHEN n = {PER_SESSION} THEN '' ELSE
       format('w%s %s %s %s about the %s',
              s.title_number * {PER_SESSION} + n,
              words[1 + (s.title_number * 7 + n) % 10], words[1 + (n * 3) % 10],
              words[1 + (s.title_number + n * 5) % 10], words[1 + n % 10]) END
FROM (SELECT id, user_id, split_part(title, ' ', 2)::int AS title_number
      FROM chat_sessions) AS s,
     generate_series(1, {PER_SESSION}) AS n,
     (SELECT ARRAY['invoice', 'garden', 'piano', 'database', 'holiday', 'runner',
                   'weather', 'recipe', 'budget', 'zebra'] AS words) AS list;
ANALYZE chat_messages;
"""

# A message appended as the service did before these migrations (no search table known).
APPEND = """
WITH session AS (
    UPDATE chat_sessions SET last_seq = last_seq + 1, last_activity_at = now()
    WHERE id = $1
    RETURNING id, user_id, last_seq
)
INSERT INTO chat_messages (session_id, user_id, seq, role, content)
SELECT id, user_id, last_seq, 'user', $2 FROM session
RETURNING id
"""
# A pending answer completed as the service did before these migrations.
COMPLETE = """
UPDATE chat_messages SET status = 'complete', content = $2
WHERE id = $1 AND status = 'pending'
"""


@pytest.fixture(scope="module")
def pg_kind() -> str:
    """One server kind is enough: what is tested is the migrations' locking."""
    return "pg18-embedded"


@pytest.fixture
def fresh_database(pg_cluster: Cluster) -> Any:
    """A database of its own, not cloned from the migrated template: its URL."""
    name = f"search_migration_{uuid.uuid4().hex[:12]}"
    server = pg_cluster.server
    with psycopg.connect(server.url(), autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield server.url(name)
    finally:
        with psycopg.connect(server.url(), autocommit=True) as admin:
            admin.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))


def _migrations(target: Path, *, through_search: bool) -> Path:
    """db/migrations up to just before the search migrations, or through them."""
    names = sorted(path.name for path in MIGRATIONS.glob("*.sql"))
    first = next(n for n in names if n.endswith(SEARCH_MIGRATIONS[0]))
    last = next(n for n in names if n.endswith(SEARCH_MIGRATIONS[-1]))
    target.mkdir()
    for name in names:
        if name < first or (through_search and name <= last):
            shutil.copy(MIGRATIONS / name, target / name)
    return target


async def test_the_search_migrations_keep_writes_going_and_make_every_message_searchable(
    fresh_database: str, tmp_path: Path
) -> None:
    url = fresh_database
    user_id = uuid.uuid4()
    status, output = await dbmate_up(url, _migrations(tmp_path / "before", through_search=False))
    assert status == 0, output

    pool = await asyncpg.create_pool(url, min_size=5, max_size=5)
    try:
        await pool.execute(LOAD.format(user_id=user_id))
        assert await pool.fetchval("SELECT count(*) FROM chat_messages") == SESSIONS * PER_SESSION
        sessions = [r[0] for r in await pool.fetch("SELECT id FROM chat_sessions LIMIT 2")]
        pending = [
            r[0] for r in await pool.fetch("SELECT id FROM chat_messages WHERE status = 'pending'")
        ]
        random.Random(17).shuffle(pending)
        versions = {r[0]: r[1] for r in await pool.fetch("SELECT id, xmin FROM chat_messages")}

        latencies: list[float] = []
        written: list[uuid.UUID] = []
        completed: list[uuid.UUID] = []
        stop = asyncio.Event()
        numbers = itertools.count()

        async def write(session_id: uuid.UUID) -> None:
            while not stop.is_set():
                started = time.monotonic()
                number = next(numbers)
                message_id = await pool.fetchval(APPEND, session_id, f"n{number} quokka")
                latencies.append(time.monotonic() - started)
                written.append(message_id)

        async def complete() -> None:
            # Paced, so that completions go on through the backfill and race its batches.
            for number, message_id in enumerate(pending):
                if stop.is_set():
                    return
                started = time.monotonic()
                await pool.execute(COMPLETE, message_id, f"answer a{number} wombat")
                latencies.append(time.monotonic() - started)
                completed.append(message_id)
                await asyncio.sleep(0.005)

        # Writes and completions done while the backfill's DO block, then the index build,
        # were running.
        during: dict[str, list[tuple[int, int]]] = {"backfill": [], "index build": []}

        async def watch(conn: asyncpg.Connection[Any]) -> None:
            while not stop.is_set():
                phase = await conn.fetchval(
                    """
                    SELECT CASE
                        WHEN EXISTS (SELECT FROM pg_stat_progress_create_index
                                     WHERE datname = current_database()) THEN 'index build'
                        WHEN EXISTS (SELECT FROM pg_stat_activity
                                     WHERE datname = current_database()
                                       AND pid <> pg_backend_pid() AND state = 'active'
                                       AND query LIKE $1) THEN 'backfill'
                    END
                    """,
                    # The start of the backfill's file (pg_stat_activity keeps 1 kB of a query).
                    "%Why: the messages written before the chat_message_search triggers%",
                )
                if phase is not None:
                    during[phase].append((len(written), len(completed)))
                await asyncio.sleep(0.01)

        watcher: asyncpg.Connection[Any] = await asyncpg.connect(url)
        tasks = [asyncio.create_task(write(session_id)) for session_id in sessions]
        tasks.append(asyncio.create_task(complete()))
        tasks.append(asyncio.create_task(watch(watcher)))
        try:
            await asyncio.sleep(0.3)  # writes are flowing
            status, output = await dbmate_up(
                url, _migrations(tmp_path / "through", through_search=True)
            )
            await asyncio.sleep(0.3)  # and go on afterwards
        finally:
            stop.set()
            await asyncio.gather(*tasks)
            await watcher.close()
        assert status == 0, output
        for suffix in SEARCH_MIGRATIONS:
            assert suffix in output, output

        for phase, counts in during.items():
            assert len(counts) >= 2, f"the {phase} was never seen running"
            assert counts[-1][0] > counts[0][0], f"no write went through during the {phase}"
        backfill = during["backfill"]
        assert backfill[-1][1] > backfill[0][1], "no answer was completed during the backfill"
        assert max(latencies) < LOCK_TIMEOUT + MARGIN, sorted(latencies)[-5:]

        valid = await pool.fetchval(
            f"SELECT indisvalid FROM pg_index WHERE indexrelid = '{INDEX}'::regclass"
        )
        assert valid is True

        total = SESSIONS * PER_SESSION + len(written)
        assert await pool.fetchval("SELECT count(*) FROM chat_messages") == total
        # Every message with words, old, new or completed, has the row the triggers make from
        # its content, and no other message has one...
        mismatched = await pool.fetchval(
            """
            SELECT count(*) FROM chat_messages AS m
            FULL JOIN chat_message_search AS f ON f.message_id = m.id
            WHERE f.message_id IS NULL AND m.content <> ''
               OR m.id IS NULL
               OR f.user_id IS DISTINCT FROM m.user_id AND m.content <> ''
               OR f.search_vector IS DISTINCT FROM nullif(to_tsvector('english', m.content), '')
            """
        )
        assert mismatched == 0
        assert await pool.fetchval("SELECT count(*) FROM chat_message_search") == total - (
            len(pending) - len(completed)
        )
        # ...and no message row was rewritten but those completed (the backfill only inserts).
        untouched = set(versions) - set(completed)
        after = {r[0]: r[1] for r in await pool.fetch("SELECT id, xmin FROM chat_messages")}
        assert {i for i in untouched if after[i] != versions[i]} == set()

        # The search finds them through the index.
        async with pool.acquire() as conn:
            await conn.execute("SET enable_seqscan = off")
            plan = await conn.fetch(
                "EXPLAIN SELECT count(*) FROM chat_message_search"
                " WHERE user_id = $1 AND search_vector @@ websearch_to_tsquery('english', 'quokka')",
                user_id,
            )
            lines = "\n".join(row[0] for row in plan)
            assert INDEX in lines, lines
            zebras = await conn.fetchval(
                "SELECT count(*) FROM chat_messages WHERE content LIKE '%zebra%'"
            )
            for word, expected in (
                ("w4711", 1),
                ("n0", 1),
                ("quokka", len(written)),
                ("a0", 1 if completed else 0),
                ("wombat", len(completed)),
                ("zebra", zebras),
            ):
                hits = await search.search_messages(
                    conn,
                    search.SearchMessagesParams(
                        config="english", query=word, user_id=user_id, limit=10**5
                    ),
                )
                assert len(hits) == expected, word
    finally:
        await pool.close()
