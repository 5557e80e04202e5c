"""A migration written to db/README.md's rules never stalls the appends of a live table.

A database with 10^5 messages takes chat turns from two connections (AppendChatTurn, the
store's append path) while dbmate applies two new migrations, as make migration writes
them: a nullable column (ACCESS EXCLUSIVE for an instant, behind lock_timeout) and an index
built CONCURRENTLY in a file of its own. The first attempt meets a long read transaction:
the ALTER waits for its lock, and appends queue behind the waiting ALTER, until lock_timeout
gives up and dbmate fails. The second attempt, once the reader is gone, applies both. No
append fails, and none waits longer than lock_timeout (plus a margin for a busy machine).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import time
import uuid
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from generated import messages
from generated.db import init_connection
from tests.conftest import MIGRATIONS
from tools import localpg, venv_tool

pytestmark = pytest.mark.anyio

LOCK_TIMEOUT = 1.0  # seconds, as the migration sets it
MARGIN = 1.5  # seconds: scheduling noise on a busy two-core machine
READER_HOLDS = 4.0  # seconds: longer than lock_timeout + margin, or the test proves nothing

SESSIONS, PER_SESSION = 1000, 100  # 10^5 messages

ADD_COLUMN = f"""\
-- migrate:up
-- Why: answers can be rated (test only).
SET LOCAL lock_timeout = '{LOCK_TIMEOUT:g}s';
SET LOCAL statement_timeout = '10s';
ALTER TABLE chat_messages ADD COLUMN rating smallint;

-- migrate:down
SET LOCAL lock_timeout = '{LOCK_TIMEOUT:g}s';
SET LOCAL statement_timeout = '10s';
ALTER TABLE chat_messages DROP COLUMN rating;
"""

CREATE_INDEX = """\
-- migrate:up transaction:false
-- Why: rated answers by time (test only).
CREATE INDEX CONCURRENTLY IF NOT EXISTS chat_messages_rating_created_at_idx
    ON chat_messages (created_at) WHERE rating IS NOT NULL;

-- migrate:down transaction:false
DROP INDEX CONCURRENTLY IF EXISTS chat_messages_rating_created_at_idx;
"""

# One user's sessions and messages, made by the server itself (generate_series), in bulk.
LOAD = f"""
INSERT INTO users (id) VALUES ('{{user_id}}');
INSERT INTO chat_sessions (user_id, title, last_seq)
SELECT '{{user_id}}', 'session ' || n, {PER_SESSION} FROM generate_series(1, {SESSIONS}) AS n;
INSERT INTO chat_messages (session_id, user_id, seq, role, content)
SELECT s.id, s.user_id, n, CASE WHEN n % 2 = 1 THEN 'user' ELSE 'assistant' END, 'message text'
FROM chat_sessions AS s, generate_series(1, {PER_SESSION}) AS n;
ANALYZE chat_messages;
"""


@pytest.fixture(scope="module")
def pg_kind() -> str:
    """One server kind is enough: what is tested is the migrations' locking."""
    return "pg18-embedded"


async def dbmate_up(url: str, migrations: Path) -> tuple[int, str]:
    """dbmate up with these migrations, as tests/conftest.py runs it, without blocking the loop."""
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "DBMATE_MIGRATIONS_DIR": str(migrations),
        "PATH": f"{localpg.bin_dir()}{os.pathsep}{os.environ['PATH']}",
    }
    process = await asyncio.create_subprocess_exec(
        venv_tool("dbmate"),
        "--no-dump-schema",
        "up",
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await process.communicate()
    assert process.returncode is not None
    return process.returncode, output.decode()


async def test_appends_go_on_while_migrations_wait_for_and_take_their_locks(
    database_url: str, tmp_path: Path
) -> None:
    user_id = uuid.uuid4()
    migrations = tmp_path / "migrations"
    shutil.copytree(MIGRATIONS, migrations)
    (migrations / "20990101000001_add_chat_messages_rating.sql").write_text(ADD_COLUMN)
    (migrations / "20990101000002_create_chat_messages_rating_index.sql").write_text(CREATE_INDEX)

    pool = await asyncpg.create_pool(database_url, min_size=3, max_size=3, init=init_connection)
    try:
        await pool.execute(LOAD.format(user_id=user_id))
        assert await pool.fetchval("SELECT count(*) FROM chat_messages") == SESSIONS * PER_SESSION
        sessions = [row[0] for row in await pool.fetch("SELECT id FROM chat_sessions LIMIT 2")]

        latencies: list[float] = []
        stop = asyncio.Event()

        async def append(session_id: uuid.UUID) -> None:
            while not stop.is_set():
                started = time.monotonic()
                turn = await messages.append_chat_turn(
                    pool, session_id=session_id, user_id=user_id, content="hello", metadata={}
                )
                latencies.append(time.monotonic() - started)
                assert len(turn) == 2

        appenders = [asyncio.create_task(append(session_id)) for session_id in sessions]
        try:
            # A long read holds ACCESS SHARE on chat_messages: the ALTER must wait for it.
            reader: asyncpg.Connection[Any] = await asyncpg.connect(database_url)
            try:
                async with reader.transaction():
                    await reader.fetchval("SELECT count(*) FROM chat_messages")
                    await asyncio.sleep(0.3)  # appends are flowing
                    first, _ = await asyncio.gather(
                        dbmate_up(database_url, migrations), asyncio.sleep(READER_HOLDS)
                    )
            finally:
                await reader.close()
            appended_before = len(latencies)
            second = await dbmate_up(database_url, migrations)
            await asyncio.sleep(0.3)  # appends go on after the index is built
        finally:
            stop.set()
            await asyncio.gather(*appenders)

        status, output = first
        assert status != 0, output
        assert "lock timeout" in output, output
        status, output = second
        assert status == 0, output
        assert "20990101000002_create_chat_messages_rating_index.sql" in output
        valid = await pool.fetchval(
            "SELECT indisvalid FROM pg_index"
            " WHERE indexrelid = 'chat_messages_rating_created_at_idx'::regclass"
        )
        assert valid is True
        assert await pool.fetchval(
            "SELECT count(*) FROM information_schema.columns"
            " WHERE table_name = 'chat_messages' AND column_name = 'rating'"
        )
    finally:
        await pool.close()

    assert len(latencies) > appended_before > 10, "appends did not go on"
    # The appends did queue behind the waiting ALTER (the scenario happened)...
    assert max(latencies) > LOCK_TIMEOUT / 3, latencies
    # ...but never for longer than lock_timeout.
    assert max(latencies) < LOCK_TIMEOUT + MARGIN, sorted(latencies)[-5:]
