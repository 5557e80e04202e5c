"""store.deadline: one budget for a request's database work (issue 12, item 3).

A statement still running at the deadline is cut short by closing its connection (a
cancel would wait for a server that may be frozen); waiting for a pool connection counts
against the same budget. Either way the caller gets DeadlineExceeded, one of
store.UNAVAILABLE, and the pool keeps only working connections.
"""

from __future__ import annotations

import asyncio

import pytest

from service import store

pytestmark = pytest.mark.anyio

SLOW = "SELECT pg_sleep(30)"
HANG_GUARD = 15.0  # seconds: a call the deadline fails to end fails the test, not the run


async def sleep_in_database(conn: store.Connection) -> None:
    await conn.execute(SLOW)


async def sleeping(pool: store.Pool) -> int:
    query = "SELECT count(*) FROM pg_stat_activity WHERE query = $1"
    count: int = await pool.fetchval(query, SLOW)
    return count


async def test_a_statement_running_at_the_deadline_is_cut_short(pool: store.Pool) -> None:
    async with asyncio.timeout(HANG_GUARD):
        with store.deadline(0.2), pytest.raises(store.DeadlineExceeded) as raised:
            await store.exec_statement(pool, sleep_in_database)
    assert isinstance(raised.value, store.UNAVAILABLE)  # a 503 with Retry-After
    # The cut connection's server process ends with it (store.setup.DEAD_CLIENT_CHECK):
    # nothing keeps sleeping.
    async with asyncio.timeout(HANG_GUARD):
        while await sleeping(pool):  # noqa: ASYNC110 - polling the server, not an event
            await asyncio.sleep(0.05)
    for _ in range(pool.get_max_size()):
        assert await store.exec_statement(pool, lambda conn: conn.fetchval("SELECT 1")) == 1


async def test_the_same_budget_covers_a_transaction(pool: store.Pool) -> None:
    async def two_statements(conn: store.Connection) -> None:
        await conn.execute("SELECT pg_sleep(0.1)")
        await conn.execute(SLOW)

    async with asyncio.timeout(HANG_GUARD):
        with store.deadline(0.5), pytest.raises(store.DeadlineExceeded):
            await store.exec_tx(pool, two_statements)


async def test_waiting_for_a_pool_connection_counts(pool: store.Pool) -> None:
    held = [await pool.acquire() for _ in range(pool.get_max_size())]
    try:
        async with asyncio.timeout(HANG_GUARD):
            with store.deadline(0.2), pytest.raises(store.DeadlineExceeded):
                await store.exec_statement(pool, lambda conn: conn.fetchval("SELECT 1"))
    finally:
        for connection in held:
            await pool.release(connection)


async def test_a_spent_budget_fails_the_next_call_without_a_round_trip(
    pool: store.Pool,
) -> None:
    calls = 0

    async def counted(conn: store.Connection) -> int:
        nonlocal calls
        calls += 1
        return 1

    with store.deadline(0.0), pytest.raises(store.DeadlineExceeded):
        await store.exec_statement(pool, counted)
    assert calls == 0


async def test_an_inner_deadline_replaces_a_spent_one(pool: store.Pool) -> None:
    """A chat turn's answer may outlast the request's budget; the write of the answer gets
    a budget of its own."""
    with store.deadline(0.0):
        with store.deadline(5.0):
            assert await store.exec_statement(pool, lambda conn: conn.fetchval("SELECT 1")) == 1
        with pytest.raises(store.DeadlineExceeded):
            await store.exec_statement(pool, lambda conn: conn.fetchval("SELECT 1"))


async def test_work_within_its_budget_is_untouched(pool: store.Pool) -> None:
    user = await store.create_anonymous_user(pool)
    with store.deadline(10.0):
        session = await store.create_session(pool, user.id)
        await store.start_chat_turn(pool, user.id, session.id, content="hello")
        page = await store.list_messages(pool, user.id, session.id, limit=10)
    assert [message.role for message in page.messages] == ["user", "assistant"]


async def test_concurrent_budgets_each_end_on_their_own_time(
    pool: store.Pool,
) -> None:
    """Concurrent requests, each with its budget: the one that ends first is cut first, a
    later and longer one is still cut on time, and one whose work finished is never cut."""
    cut: list[tuple[str, float]] = []
    loop = asyncio.get_running_loop()
    started = loop.time()

    async def sleeper(name: str, seconds: float) -> None:
        with store.deadline(seconds), pytest.raises(store.DeadlineExceeded):
            await store.exec_statement(pool, sleep_in_database)
        cut.append((name, loop.time() - started))

    async def quick() -> None:
        with store.deadline(0.3):
            assert await store.exec_statement(pool, lambda conn: conn.fetchval("SELECT 1")) == 1
        await asyncio.sleep(0.5)  # past its budget: nothing of it is cut

    async with asyncio.timeout(HANG_GUARD):
        await asyncio.gather(sleeper("long", 0.6), quick(), sleeper("short", 0.2))
    assert [name for name, _ in cut] == ["short", "long"]
    (_, short), (_, long) = cut
    assert short >= 0.2
    assert long >= 0.6
    assert long - short >= 0.2  # the short budget ended on its own time, not with the long one
