"""Operations: liveness, readiness (database and Qdrant), and the OpenAPI description."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable

from starlette.requests import Request
from starlette.responses import Response

from ..json import json_response
from ..rag.vectors import VectorStore
from ..schemas import Health, Readiness
from ..store import Connection, Pool, exec_statement

__all__ = ["health", "openapi", "ready"]

log = logging.getLogger("service.ops")

CHECK_TIMEOUT = 1.5  # seconds per dependency: readiness must answer, not hang
# A statement with a parameter: prepared (and cached, when the statement cache is on) the way
# every generated query is, where a bare SELECT 1 would tell little.
READY_QUERY = "SELECT $1::int"
# How long the check waits for a second connection; a busy pool is not a failing one.
SECOND_CONNECTION_WAIT = 0.2  # seconds


async def health(request: Request) -> Response:
    """The process is up and serving; says nothing about its dependencies."""
    return json_response(Health("ok"))


async def ready(request: Request) -> Response:
    """200 when PostgreSQL and Qdrant both answer, else 503 naming what is down."""
    database, qdrant = await asyncio.gather(
        _check(_ping_database(request.state.db)), _check(_ping_vectors(request.state.vectors))
    )
    checks = {"database": database, "qdrant": qdrant}
    if all(result == "ok" for result in checks.values()):
        return json_response(Readiness("ready", checks))
    retry_after = str(request.state.settings.retry_after_seconds)
    return json_response(
        Readiness("unavailable", checks), status=503, headers={"Retry-After": retry_after}
    )


async def _ping_database(pool: Pool) -> None:
    """A prepared statement, run as requests run theirs (through the store, which retries
    on another connection when one broke, and discards it); then run again on the same
    connection while a second one holds a transaction open. Behind a pooler that moves
    connections between server backends (PgBouncer in transaction mode), the first is then
    served by another backend, where a statement it cached is missing: the check fails as
    requests would, instead of passing because nothing else was running."""

    async def check(conn: Connection) -> None:
        await conn.fetchval(READY_QUERY, 1)
        try:
            other = await pool.acquire(timeout=SECOND_CONNECTION_WAIT)
        except TimeoutError:
            return  # every other connection is busy serving: the first statement will do
        try:
            async with other.transaction():
                await other.fetchval(READY_QUERY, 2)
                await conn.fetchval(READY_QUERY, 3)
        finally:
            await pool.release(other)

    await exec_statement(pool, check)


async def _ping_vectors(vectors: VectorStore) -> None:
    await vectors.check()


async def _check(ping: Awaitable[None]) -> str:
    try:
        async with asyncio.timeout(CHECK_TIMEOUT):
            await ping
    except TimeoutError:
        return f"no answer within {CHECK_TIMEOUT} s"
    except Exception as error:
        log.warning("readiness check failed: %s: %s", type(error).__name__, error)
        return f"unavailable ({type(error).__name__})"
    return "ok"


async def openapi(request: Request) -> Response:
    return json_response(request.app.state.openapi)
