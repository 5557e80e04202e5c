"""Units of work: one transaction per store operation, retried when that is safe to do."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from typing import TypeAlias, TypeVar

import asyncpg
from asyncpg.pool import PoolConnectionProxy

from .errors import UNAVAILABLE, mapped_errors

__all__ = ["Connection", "Db", "Pool", "exec_statement", "exec_tx"]

Pool: TypeAlias = "asyncpg.Pool[asyncpg.Record]"
Connection: TypeAlias = "asyncpg.Connection[asyncpg.Record] | PoolConnectionProxy[asyncpg.Record]"
Db: TypeAlias = "Pool | Connection"
T = TypeVar("T")

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
    retried on serialization failures, deadlocks and lost connections, with backoff.
    Given a connection, ``work`` runs in a transaction (a savepoint inside the caller's
    transaction) and is never retried: the caller owns the outer transaction.
    """
    if not isinstance(db, asyncpg.Pool):
        with mapped_errors():
            async with db.transaction():
                return await work(db)
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
            # A timeout already spent its whole budget waiting: retrying would multiply the
            # wait of a hung server, so it is reported at once.
            if attempt >= attempts or isinstance(error, TimeoutError):
                raise
        await asyncio.sleep(FIRST_BACKOFF * 2 ** (attempt - 1) * random.uniform(0.5, 1.5))
        attempt += 1


async def _attempt(
    pool: Pool, work: Callable[[Connection], Awaitable[T]], *, transaction: bool
) -> T:
    async with pool.acquire() as conn:
        try:
            with mapped_errors():
                if not transaction:
                    return await work(conn)
                async with conn.transaction():
                    return await work(conn)
        except asyncpg.InterfaceError as error:
            # Rolling back after the connection was lost fails too, with an InterfaceError
            # that hides the loss: report the loss itself, which can be retried.
            if isinstance(error.__context__, RETRYABLE):
                raise error.__context__ from None
            raise
