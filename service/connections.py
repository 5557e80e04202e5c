"""Opening the clients the service holds for its lifetime: the asyncpg pool and Qdrant."""

from __future__ import annotations

import asyncpg
from qdrant_client import AsyncQdrantClient

from generated.db import init_connection

from .settings import Settings
from .store import Pool

__all__ = ["open_pool", "open_qdrant"]


async def open_pool(settings: Settings) -> Pool:
    """The asyncpg pool, with the codecs the generated code needs.

    TLS follows ``sslmode`` in DATABASE_URL (asyncpg reads it: disable, prefer, require,
    verify-ca, verify-full). A statement cache size of 0 suits PgBouncer's transaction
    pooling (Neon's pooler), which cannot keep named prepared statements.
    """
    if settings.database_url is None:
        raise RuntimeError("DATABASE_URL is not set (make run sets it to the local PostgreSQL)")
    pool = await asyncpg.create_pool(
        settings.database_url,
        min_size=settings.db_pool_min_size,
        max_size=settings.db_pool_max_size,
        statement_cache_size=settings.db_statement_cache_size,
        command_timeout=settings.db_command_timeout,
        timeout=settings.db_connect_timeout,
        init=init_connection,
        reset=keep_session_state,
    )
    assert pool is not None
    return pool


async def keep_session_state(conn: asyncpg.Connection[asyncpg.Record]) -> None:
    """The pool's reset on release, which does nothing beyond asyncpg's own cleanup.

    asyncpg always rolls back a transaction left open and drops listeners; its default reset
    then sends ``RESET ALL; UNLISTEN *; CLOSE ALL; pg_advisory_unlock_all()``, one round trip
    per request. The service sets no session settings, listens to nothing, holds no cursors
    outside transactions and takes no session-level advisory locks, so that round trip
    would undo nothing (tests/bench/RESULTS.md has its measured cost).
    """


def open_qdrant(settings: Settings) -> AsyncQdrantClient:
    """A Qdrant server by QDRANT_URL, otherwise embedded local mode at QDRANT_PATH."""
    if settings.qdrant_url is not None:
        # No version check at start-up: it runs in a thread and only warns; /ready reports
        # an unreachable server instead.
        return AsyncQdrantClient(
            url=settings.qdrant_url, api_key=settings.qdrant_api_key, check_compatibility=False
        )
    if settings.qdrant_path == ":memory:":
        return AsyncQdrantClient(location=":memory:")
    return AsyncQdrantClient(path=settings.qdrant_path)
