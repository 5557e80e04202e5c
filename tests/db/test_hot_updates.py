"""The session-row updates that change no indexed column are HOT (issue 14, item 3).

chat_sessions keeps a tenth of each page free (fillfactor 90), so a read's throttled
last_accessed_at and a rename put the new row version on the same page without new index
entries. A chat turn's update moves last_activity_at, the key of the session list's index,
and cannot be HOT: that is what keyset pagination by last activity costs.
"""

from __future__ import annotations

import asyncio
import uuid

import pytest

from service import store

pytestmark = pytest.mark.anyio

SESSIONS = 300  # several pages of sessions


async def session_updates(pool: store.Pool, expected: int) -> tuple[int, int]:
    """chat_sessions' (updates, HOT updates) once every backend has reported ``expected``."""
    async with pool.acquire() as conn:
        # Backends report their counters when idle, about a second later at most.
        for _ in range(100):
            await conn.execute("SELECT pg_stat_clear_snapshot()")
            row = await conn.fetchrow(
                "SELECT n_tup_upd, n_tup_hot_upd FROM pg_stat_user_tables"
                " WHERE relname = 'chat_sessions'"
            )
            assert row is not None
            if row["n_tup_upd"] >= expected:
                return int(row["n_tup_upd"]), int(row["n_tup_hot_upd"])
            await asyncio.sleep(0.1)
    raise AssertionError(f"the counters never reached {expected} updates: {row}")


async def old_sessions(pool: store.Pool) -> tuple[uuid.UUID, list[uuid.UUID]]:
    """A user with SESSIONS sessions last read a day ago, packed as the table packs them; the
    ids returned are one session of each page, so that whether an update stays on its page
    depends on the room left by the fillfactor only, not on when dead versions are pruned."""
    user = await store.create_user(pool)
    rows = await pool.fetch(
        "INSERT INTO chat_sessions (user_id, title, last_accessed_at)"
        " SELECT $1, 'session ' || n, now() - interval '1 day' FROM generate_series(1, $2) AS n"
        " RETURNING id, (ctid::text::point)[0] AS page",
        user.id,
        SESSIONS,
    )
    one_per_page = {row["page"]: row["id"] for row in rows}
    assert len(one_per_page) > 3
    return user.id, list(one_per_page.values())


async def test_the_fillfactor_leaves_room_on_every_session_page(pool: store.Pool) -> None:
    options = await pool.fetchval("SELECT reloptions FROM pg_class WHERE relname = 'chat_sessions'")
    assert "fillfactor=90" in options


async def test_reading_histories_records_the_reads_as_hot_updates(pool: store.Pool) -> None:
    user_id, session_ids = await old_sessions(pool)
    for session_id in session_ids:
        await store.list_messages(pool, user_id, session_id, limit=10)
    updates, hot = await session_updates(pool, len(session_ids))
    assert (updates, hot) == (len(session_ids), len(session_ids))


async def test_renaming_sessions_is_a_hot_update(pool: store.Pool) -> None:
    user_id, session_ids = await old_sessions(pool)
    for session_id in session_ids:
        await store.update_session(pool, user_id, session_id, title="renamed")
    updates, hot = await session_updates(pool, len(session_ids))
    assert (updates, hot) == (len(session_ids), len(session_ids))
