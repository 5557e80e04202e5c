"""Opening the clients the service holds for its lifetime: the asyncpg pool and the vectors."""

from __future__ import annotations

import asyncpg

from generated.db import init_connection

from .rag.edge import EdgeVectorStore
from .rag.providers import Embeddings
from .rag.qdrant_server import ServerVectorStore, open_client
from .rag.sparse import Lexical
from .rag.vectors import Layout, VectorStore
from .settings import Settings
from .store import Pool

__all__ = ["open_pool", "open_vectors"]


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


def open_vectors(settings: Settings, lexical: Lexical, dense: Embeddings | None) -> VectorStore:
    """The chunk collection: on a Qdrant server by QDRANT_URL, else the embedded engine.

    Nothing is opened yet: ``VectorStore.open`` does that (the app at startup).
    """
    layout = Layout(sparse_model=lexical.name, dense_model=None if dense is None else dense.model)
    if settings.qdrant_url is not None:
        client = open_client(settings.qdrant_url, settings.qdrant_api_key)
        return ServerVectorStore(client, settings.qdrant_collection, layout=layout, dense=dense)
    return EdgeVectorStore(
        settings.qdrant_path, settings.qdrant_collection, layout=layout, dense=dense
    )
