"""The service's pool skips asyncpg's reset query on release: what that keeps and drops."""

from __future__ import annotations

import pytest

from service.connections import open_pool
from service.settings import Settings


@pytest.mark.anyio
async def test_a_released_connection_keeps_its_session_but_never_an_open_transaction(
    database_url: str,
) -> None:
    pool = await open_pool(
        Settings(database_url=database_url, db_pool_min_size=1, db_pool_max_size=1)
    )
    try:
        async with pool.acquire() as conn:
            await conn.execute("SET application_name = 'kept'")
            await conn.execute("CREATE TEMP TABLE abandoned (n int)")
            await conn.execute("BEGIN")  # not managed: released mid-transaction
            await conn.execute("INSERT INTO abandoned VALUES (1)")
        async with pool.acquire() as conn:  # the same, only connection
            assert not conn.is_in_transaction()
            assert await conn.fetchval("SELECT count(*) FROM abandoned") == 0
            # No RESET ALL was sent: the choice this test documents.
            assert await conn.fetchval("SHOW application_name") == "kept"
    finally:
        await pool.close()
