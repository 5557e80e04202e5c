"""Units of work: one transaction per store operation, retried when that is safe to do."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import random
from collections.abc import Awaitable, Callable
from typing import TypeAlias, TypeVar

import asyncpg
from asyncpg.pool import PoolConnectionProxy

from .deadlines import Budget, DeadlineExceeded, current_budget, leaves
from .errors import (
    STATEMENT_CACHE_ERRORS,
    UNAVAILABLE,
    ConnectionLost,
    connection_lost,
    mapped_errors,
)

__all__ = ["Connection", "Db", "Pool", "exec_statement", "exec_tx"]

Pool: TypeAlias = "asyncpg.Pool[asyncpg.Record]"
Connection: TypeAlias = "asyncpg.Connection[asyncpg.Record] | PoolConnectionProxy[asyncpg.Record]"
Db: TypeAlias = "Pool | Connection"
T = TypeVar("T")

log = logging.getLogger("service.store")

ATTEMPTS = 4
FIRST_BACKOFF = 0.05  # seconds, doubled after each failed attempt, with jitter
# Failures after which running the whole transaction again is the fix.
RETRYABLE: tuple[type[Exception], ...] = (
    asyncpg.SerializationError,  # 40001
    asyncpg.DeadlockDetectedError,  # 40P01
    *UNAVAILABLE,
)


async def exec_tx(
    db: Db, work: Callable[[Connection], Awaitable[T]], *, attempts: int = ATTEMPTS
) -> T:
    """Run ``work`` in one transaction, with PostgreSQL errors mapped to the store's errors.

    Given a pool, a connection is acquired for each attempt and the whole transaction is
    retried on serialization failures, deadlocks and lost connections, with backoff, all
    within the caller's deadline (``deadlines.deadline``) when it has one. A lost
    connection, in whatever shape asyncpg reports it (``errors.connection_lost``), is
    discarded, never returned to the pool, and raised as one of UNAVAILABLE once the
    attempts are spent.
    Given a connection, ``work`` runs in a transaction (a savepoint inside the caller's
    transaction) and is never retried: the caller owns the outer transaction (and the
    connection: a lost one is reported the same way, but the caller's pool discards it).
    """
    if not isinstance(db, asyncpg.Pool):
        return await _run(db, work, transaction=True)
    return await _retried(db, work, attempts=attempts, transaction=True)


async def exec_statement(
    db: Db, work: Callable[[Connection], Awaitable[T]], *, attempts: int = ATTEMPTS
) -> T:
    """Like exec_tx, for ``work`` whose writes are one statement: a statement is atomic on its
    own, so given a pool it runs without BEGIN and COMMIT (one round trip, not three). Reads
    may follow it on the same connection when they only need what it committed (replaying a
    retried write, telling "not found" from "empty")."""
    if not isinstance(db, asyncpg.Pool):
        return await exec_tx(db, work)
    return await _retried(db, work, attempts=attempts, transaction=False)


async def _retried(
    pool: Pool, work: Callable[[Connection], Awaitable[T]], *, attempts: int, transaction: bool
) -> T:
    attempt = 1
    while True:
        try:
            return await _attempt(pool, work, transaction=transaction)
        except RETRYABLE as error:
            pause = FIRST_BACKOFF * 2 ** (attempt - 1) * random.uniform(0.5, 1.5)
            # A timeout already spent its whole budget waiting: retrying would multiply the
            # wait of a hung server, so it is reported at once; so is a failure the deadline
            # leaves no time to retry.
            if attempt >= attempts or isinstance(error, TimeoutError) or not leaves(pause):
                raise
        await asyncio.sleep(pause)
        attempt += 1


async def _attempt(
    pool: Pool, work: Callable[[Connection], Awaitable[T]], *, transaction: bool
) -> T:
    budget = current_budget()
    try:
        conn = await (pool.acquire() if budget is None else _acquire(pool, budget))
    except Exception as error:
        if isinstance(error, UNAVAILABLE) or not connection_lost(error, closed=True):
            raise
        # A connection opened for this call was lost while being set up (the server went
        # away under its init), in one of asyncpg's other shapes; asyncpg has closed it.
        raise _lost(error) from error
    # Closing, not cancelling, ends a statement at the deadline: a cancelled statement leaves
    # asyncpg waiting for the server to confirm the cancel before the connection can be used
    # or even rolled back, and a frozen server never does. The closed connection makes the
    # awaited statement fail at once.
    close = functools.partial(_discard, conn)
    if budget is not None:
        budget.watch(close)
    try:
        return await _run(conn, work, transaction=transaction)
    except Exception as error:
        if budget is not None and budget.expired:
            raise DeadlineExceeded(
                "the database did not answer within the request's budget"
            ) from error
        if _broken(error):
            # Never back into the pool: the next request would inherit the breakage.
            _discard(conn)
        raise
    finally:
        if budget is not None:
            budget.unwatch(close)
        await pool.release(conn)


async def _acquire(pool: Pool, budget: Budget) -> PoolConnectionProxy[asyncpg.Record]:
    """A connection from the pool, by the end of the budget (the wait is cancelled then, as
    asyncio.timeout would, without its object and timer of its own)."""
    if budget.at <= asyncio.get_running_loop().time():
        raise DeadlineExceeded("the request's database budget was spent before this call")
    task = asyncio.current_task()
    assert task is not None
    cancelling = task.cancelling()
    cancel = task.cancel
    budget.watch(cancel)
    try:
        return await pool.acquire()
    except asyncio.CancelledError as error:
        if budget.expired and task.uncancel() <= cancelling:
            raise DeadlineExceeded("no database connection within the request's budget") from error
        raise
    finally:
        budget.unwatch(cancel)


async def _run(
    conn: Connection, work: Callable[[Connection], Awaitable[T]], *, transaction: bool
) -> T:
    """``work`` on ``conn``, with its errors mapped, and every shape of a lost connection that
    is not one of UNAVAILABLE already raised as ConnectionLost."""
    try:
        with mapped_errors():
            if not transaction:
                return await work(conn)
            async with conn.transaction():
                return await work(conn)
    except Exception as error:
        if isinstance(error, UNAVAILABLE):
            raise
        timeout = _timed_out(error)
        if timeout is not None:
            # What failed after a statement timed out (its rollback) is not the news: the
            # timeout is, and it is not retried.
            raise timeout from None
        if not connection_lost(error, closed=_closed(conn)):
            raise
        if isinstance(error, STATEMENT_CACHE_ERRORS):
            log.error(
                "a cached prepared statement is missing on the server (%s): a pooler in "
                "transaction mode (PgBouncer) is between the service and PostgreSQL; "
                "set DB_STATEMENT_CACHE_SIZE=0",
                type(error).__name__,
            )
        raise _lost(error) from error


def _lost(error: Exception) -> ConnectionLost:
    """One of asyncpg's other shapes of a lost connection, as one type that is retried and
    answered like those of UNAVAILABLE."""
    return ConnectionLost(f"{type(error).__name__}: {error}")


def _timed_out(error: BaseException) -> TimeoutError | None:
    """The timeout among the errors that led to ``error``, if there is one."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, TimeoutError):
            return current
        current = current.__cause__ or current.__context__
    return None


def _broken(error: Exception) -> bool:
    """Whether the connection ``error`` came from must not be used again: it was lost (a
    timeout is not a loss: asyncpg cancels the statement, and waits for that before reuse),
    or the driver lost track of the protocol on it."""
    if isinstance(error, TimeoutError):
        return False
    return isinstance(error, (*UNAVAILABLE, asyncpg.InternalClientError))


def _closed(conn: Connection) -> bool:
    """Whether the connection is closed; a proxy the pool took back (asyncpg does so when the
    connection is terminated under it) is."""
    try:
        return conn.is_closed()
    except asyncpg.InterfaceError:
        return True


def _discard(conn: Connection) -> None:
    """Close the connection at once, without a word to the server: asyncpg's pool then drops it
    and opens a new one when it is needed."""
    with contextlib.suppress(asyncpg.InterfaceError):  # the pool has taken it back already
        conn.terminate()
