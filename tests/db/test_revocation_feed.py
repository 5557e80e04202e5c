"""store.RevocationFeed: revocations committed anywhere reach the feed; a lost feed connection
says so (the credential cache then empties and stops caching) and comes back."""

from __future__ import annotations

import asyncio
import contextlib
import datetime
from collections.abc import AsyncIterator

import pytest

from service import store

pytestmark = pytest.mark.anyio

WITHIN = 10.0  # seconds: a notification or a reconnection that takes longer fails the test


class Recorder:
    def __init__(self) -> None:
        self.revoked: asyncio.Queue[store.Revoked] = asyncio.Queue()
        self.states: asyncio.Queue[bool] = asyncio.Queue()

    async def listening(self, state: bool) -> None:
        async with asyncio.timeout(WITHIN):
            while (await self.states.get()) != state:
                pass


@contextlib.asynccontextmanager
async def running_feed(database_url: str) -> AsyncIterator[Recorder]:
    recorder = Recorder()
    feed = store.RevocationFeed(database_url, connect_timeout=2, retry_seconds=0.1)
    task = asyncio.create_task(
        feed.run_forever(recorder.revoked.put_nowait, recorder.states.put_nowait)
    )
    try:
        await recorder.listening(True)
        yield recorder
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def test_a_revoked_credential_and_a_deleted_user_are_delivered(
    pool: store.Pool, database_url: str
) -> None:
    user = await store.create_anonymous_user(pool)
    issued = await store.issue_credential(pool, user.id, ttl=datetime.timedelta(hours=1))
    async with running_feed(database_url) as feed:
        await store.revoke_credential(pool, user.id, issued.credential.id)
        async with asyncio.timeout(WITHIN):
            assert await feed.revoked.get() == store.Revoked(credential_id=issued.credential.id)
        await store.erase_user(pool, user.id, rate_limit_buckets=())
        async with asyncio.timeout(WITHIN):
            assert await feed.revoked.get() == store.Revoked(user_id=user.id)


async def test_a_revocation_rolled_back_is_not_delivered(
    pool: store.Pool, database_url: str
) -> None:
    user = await store.create_anonymous_user(pool)
    issued = await store.issue_credential(pool, user.id, ttl=datetime.timedelta(hours=1))
    async with running_feed(database_url) as feed:
        async with pool.acquire() as conn:
            transaction = conn.transaction()
            await transaction.start()
            await store.revoke_credential(conn, user.id, issued.credential.id)
            await transaction.rollback()
        # A later notification, to wait for.
        await store.erase_user(pool, user.id, rate_limit_buckets=())
        async with asyncio.timeout(WITHIN):
            assert await feed.revoked.get() == store.Revoked(user_id=user.id)


async def test_a_lost_connection_is_reported_and_replaced(
    pool: store.Pool, database_url: str
) -> None:
    async with running_feed(database_url) as feed:
        ended = await pool.fetchval(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = current_database() AND query LIKE 'LISTEN%'"
        )
        assert ended >= 1
        await feed.listening(False)
        await feed.listening(True)
        user = await store.create_anonymous_user(pool)
        await store.erase_user(pool, user.id, rate_limit_buckets=())
        async with asyncio.timeout(WITHIN):
            assert await feed.revoked.get() == store.Revoked(user_id=user.id)
