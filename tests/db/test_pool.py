"""The service's pool: what a released connection keeps, and what happens to one that broke.

A connection the server ended (terminated, restarted) is reported as one of
``store.UNAVAILABLE`` in whatever shape asyncpg raised it, retried on another connection,
and never handed out again. Real backends are terminated here with pg_terminate_backend;
tests/faults crashes and restarts whole servers.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import asyncpg
import pytest
from asyncpg.exceptions import InternalClientError

from service import store
from service.connections import open_pool
from service.settings import Settings
from service.store.errors import ConnectionLost, connection_lost


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


# --- lost connections: every shape is one of store.UNAVAILABLE, and the connection is dropped


async def _backends(pool: store.Pool) -> set[int]:
    """The backend of every connection the pool holds, each acquired at once."""
    connections = [await pool.acquire() for _ in range(pool.get_max_size())]
    try:
        return {await connection.fetchval("SELECT pg_backend_pid()") for connection in connections}
    finally:
        for connection in connections:
            await pool.release(connection)


async def _terminate(database_url: str, backend: int) -> None:
    """pg_terminate_backend from a connection of its own, as an operator (or a failover) would."""
    admin = await asyncpg.connect(database_url)
    try:
        assert await admin.fetchval("SELECT pg_terminate_backend($1)", backend)
    finally:
        await admin.close()


@pytest.fixture
async def small_pool(database_url: str) -> AsyncIterator[store.Pool]:
    """The service's pool (open_pool), of two connections."""
    pool = await open_pool(
        Settings(database_url=database_url, db_pool_min_size=1, db_pool_max_size=2)
    )
    try:
        yield pool
    finally:
        await pool.close()


@pytest.mark.anyio
@pytest.mark.parametrize("unit", ["exec_tx", "exec_statement"])
async def test_a_backend_terminated_mid_statement_is_retried_on_another_connection(
    small_pool: store.Pool, database_url: str, unit: str
) -> None:
    backends: list[int] = []

    async def work(conn: store.Connection) -> int:
        backends.append(await conn.fetchval("SELECT pg_backend_pid()"))
        if len(backends) == 1:
            terminate = asyncio.create_task(_terminate(database_url, backends[0]))
            try:
                await conn.execute("SELECT pg_sleep(10)")  # ended by the terminate
            finally:
                await terminate
        return len(backends)

    run = store.exec_tx if unit == "exec_tx" else store.exec_statement
    assert await run(small_pool, work) == 2
    assert backends[1] != backends[0]
    assert backends[0] not in await _backends(small_pool)


@pytest.mark.anyio
@pytest.mark.parametrize("unit", ["exec_tx", "exec_statement"])
async def test_a_connection_closed_between_statements_is_a_lost_connection(
    small_pool: store.Pool, database_url: str, unit: str
) -> None:
    """The next statement on a connection the server closed raises asyncpg's InterfaceError
    ("connection is closed"), which is not one of UNAVAILABLE by its type: the store says
    what it means (ConnectionLost), retries, and never hands that connection out again."""
    backends: list[int] = []

    async def work(conn: store.Connection) -> int:
        backends.append(await conn.fetchval("SELECT pg_backend_pid()"))
        if len(backends) == 1:
            closed = asyncio.Event()
            conn.add_termination_listener(lambda _: closed.set())
            await _terminate(database_url, backends[0])
            async with asyncio.timeout(5):
                await closed.wait()  # asyncpg has read the server's goodbye
        return int(await conn.fetchval("SELECT 1"))

    run = store.exec_tx if unit == "exec_tx" else store.exec_statement
    with pytest.raises(store.UNAVAILABLE) as lost:
        await run(small_pool, work, attempts=1)
    assert isinstance(lost.value, ConnectionLost)
    assert isinstance(lost.value.__cause__, asyncpg.InterfaceError)
    assert backends[0] not in await _backends(small_pool)

    backends.clear()
    assert await run(small_pool, work) == 1  # retried on a new connection
    assert len(backends) == 2


@pytest.mark.anyio
@pytest.mark.parametrize("unit", ["exec_tx", "exec_statement"])
async def test_a_statement_that_times_out_is_reported_at_once_not_retried(
    database_url: str, unit: str
) -> None:
    """A timeout spent its whole budget waiting: it is raised as itself (not as the failed
    rollback that may follow it, nor as a lost connection) and not retried."""
    pool = await open_pool(
        Settings(database_url=database_url, db_pool_max_size=2, db_command_timeout=0.2)
    )
    try:
        calls: list[int] = []

        async def work(conn: store.Connection) -> None:
            calls.append(1)
            await conn.execute("SELECT pg_sleep(5)")

        run = store.exec_tx if unit == "exec_tx" else store.exec_statement
        started = asyncio.get_running_loop().time()
        with pytest.raises(TimeoutError):
            await run(pool, work)
        assert len(calls) == 1
        assert asyncio.get_running_loop().time() - started < 2
        assert await pool.fetchval("SELECT 1") == 1
    finally:
        await pool.close()


@pytest.mark.anyio
async def test_a_mistake_on_a_live_connection_is_not_taken_for_a_lost_one(
    database_url: str,
) -> None:
    pool = await open_pool(
        Settings(database_url=database_url, db_pool_min_size=1, db_pool_max_size=1)
    )
    try:
        backend = await pool.fetchval("SELECT pg_backend_pid()")
        calls: list[int] = []

        async def work(conn: store.Connection) -> None:
            calls.append(1)
            await conn.fetchval("SELECT $1::int")  # no argument: asyncpg's InterfaceError

        with pytest.raises(asyncpg.InterfaceError, match="argument"):
            await store.exec_statement(pool, work)
        assert len(calls) == 1  # not retried
        assert await pool.fetchval("SELECT pg_backend_pid()") == backend  # not discarded
    finally:
        await pool.close()


def _lost_in_a_rollback() -> asyncpg.InterfaceError:
    """An InterfaceError raised while handling a lost connection (a rollback after it)."""
    try:
        try:
            raise asyncpg.ConnectionDoesNotExistError("connection was closed")
        except asyncpg.ConnectionDoesNotExistError:
            raise asyncpg.InterfaceError("cannot perform operation: connection is closed")  # noqa: B904
    except asyncpg.InterfaceError as error:
        return error


@pytest.mark.parametrize(
    ("error", "closed", "lost"),
    [
        (asyncpg.ConnectionDoesNotExistError("closed in the middle of operation"), False, True),
        (asyncpg.AdminShutdownError("terminating connection"), False, True),
        (ConnectionResetError(104, "Connection reset by peer"), True, True),
        # The shape seen after kill -9 of the postmaster (issue 12).
        (InternalClientError("cannot switch to state 12; another operation (2) ..."), True, True),
        (InternalClientError("cannot switch to state 12; another operation (2) ..."), False, False),
        (asyncpg.InterfaceError("cannot perform operation: connection is closed"), True, True),
        (asyncpg.InterfaceError("the server expects 1 argument, 0 were passed"), False, False),
        (_lost_in_a_rollback(), False, True),
        # A statement cache out of step with its server (PgBouncer in transaction mode).
        (asyncpg.InvalidSQLStatementNameError('"__asyncpg_stmt_5d__" does not exist'), False, True),
        (asyncpg.DeadlockDetectedError("deadlock detected"), False, False),
        (asyncpg.UniqueViolationError("duplicate key"), True, False),
    ],
    ids=lambda value: type(value).__name__ if isinstance(value, BaseException) else str(value),
)
def test_what_counts_as_a_lost_connection(error: BaseException, closed: bool, lost: bool) -> None:
    assert connection_lost(error, closed=closed) is lost


@pytest.mark.anyio
@pytest.mark.parametrize("budget", [None, 5.0])
async def test_a_connection_lost_while_being_set_up_is_retried_as_a_lost_one(
    database_url: str, budget: float | None
) -> None:
    """The server can go away while the pool opens a connection for a call: the init's next
    statement then fails in one of asyncpg's other shapes (seen in
    tests/faults/test_turns_finish.py: InternalClientError, "another operation is in
    progress"). The call is retried on a new connection, or answered as unavailable."""
    opened = 0

    async def init(conn: asyncpg.Connection[asyncpg.Record]) -> None:
        nonlocal opened
        opened += 1
        if opened == 1:  # the first one is lost under its init
            conn.terminate()
        await conn.execute("SELECT 1")

    pool = await asyncpg.create_pool(database_url, min_size=0, max_size=1, init=init)
    try:
        with store.deadline(budget):
            assert await store.exec_statement(pool, lambda conn: conn.fetchval("SELECT 7")) == 7
        assert opened == 2
        opened = 0
        await pool.expire_connections()  # the next call opens a new one
        with store.deadline(budget), pytest.raises(store.UNAVAILABLE) as lost:
            await store.exec_statement(pool, lambda conn: conn.fetchval("SELECT 7"), attempts=1)
        assert isinstance(lost.value, ConnectionLost)
        assert isinstance(lost.value.__cause__, asyncpg.InterfaceError)
    finally:
        await pool.close()
