"""Opening the clients the service holds for its lifetime: the asyncpg pool and the vectors."""

from __future__ import annotations

import asyncio
import logging
import os
from urllib.parse import unquote

import asyncpg

from .rag.edge import EdgeVectorStore
from .rag.providers import Embeddings
from .rag.qdrant_server import ServerVectorStore, open_client
from .rag.sparse import Lexical
from .rag.vectors import Layout, VectorStore
from .settings import Settings, SettingsError
from .store import Pool, init_connection

__all__ = ["DatabaseUnavailable", "open_pool", "open_vectors", "shares_backends"]

log = logging.getLogger("service.connections")


class DatabaseUnavailable(Exception):
    """PostgreSQL could not be reached, or refused the connection: one line naming the
    server (never the credentials), the reason and what to do."""


async def open_pool(settings: Settings) -> Pool:
    """The asyncpg pool, with the codecs the generated code needs.

    TLS follows ``sslmode`` in DATABASE_URL (asyncpg reads it: disable, prefer, require,
    verify-ca, verify-full).

    Named prepared statements (asyncpg's statement cache, DB_STATEMENT_CACHE_SIZE) live in
    one PostgreSQL backend; a pooler that hands backends to its clients per transaction
    (PgBouncer's transaction mode, Neon's pooler) makes them fail under load. When the
    cache is on, the server is probed for such a pooler first (``shares_backends``), and
    behind one the cache is switched off with a warning: the service then works as
    DB_STATEMENT_CACHE_SIZE=0 would make it, where refusing to start would only ask the
    operator to type that. Setting it to 0 skips the probe (it costs two short-lived
    connections at startup). Should a pooler go unnoticed, the store logs the same fix at
    the first missing statement and /ready fails (``endpoints.ops``).
    """
    url = settings.database_url
    if url is None:
        raise SettingsError(
            "DATABASE_URL: not set; set it to postgresql://USER:PASSWORD@HOST:PORT/DATABASE "
            "(make run sets it to the embedded PostgreSQL)"
        )
    try:
        cache_size = settings.db_statement_cache_size
        # DB_POOL_MIN_SIZE=0 asks for no connection at startup: nothing is probed then.
        probe = cache_size > 0 and settings.db_pool_min_size > 0
        if probe and await shares_backends(url, settings):
            log.warning(
                "PostgreSQL at %s (DATABASE_URL) is reached through a pooler that shares its "
                "server connections between clients (PgBouncer in transaction mode?): named "
                "prepared statements cannot work there, so the statement cache is off; set "
                "DB_STATEMENT_CACHE_SIZE=0 to say so and skip this check",
                _server(url),
            )
            cache_size = 0
        pool = await asyncpg.create_pool(
            url,
            min_size=settings.db_pool_min_size,
            max_size=settings.db_pool_max_size,
            statement_cache_size=cache_size,
            command_timeout=settings.db_command_timeout,
            timeout=settings.db_connect_timeout,
            init=init_connection,
            reset=keep_session_state,
        )
    except asyncpg.ClientConfigurationError as error:  # the URL's parameters
        raise SettingsError(f"DATABASE_URL: {error}; fix the URL") from error
    except ValueError as error:  # the URL's form (a port that is not a number, ...)
        raise SettingsError(f"DATABASE_URL: cannot be parsed ({error}); fix the URL") from error
    except TimeoutError as error:
        raise DatabaseUnavailable(
            f"cannot connect to PostgreSQL at {_server(url)} (DATABASE_URL): no answer within "
            f"{settings.db_connect_timeout:g} s (DB_CONNECT_TIMEOUT); "
            "check that the server is up and reachable"
        ) from error
    except OSError as error:  # refused, unreachable, unknown host, TLS refused
        reason = os.strerror(error.errno).lower() if error.errno else str(error)
        raise DatabaseUnavailable(
            f"cannot connect to PostgreSQL at {_server(url)} (DATABASE_URL): {reason}; "
            "start PostgreSQL there or set DATABASE_URL to a server that is running"
        ) from error
    except (asyncpg.PostgresError, asyncpg.InterfaceError) as error:  # the server said no
        raise DatabaseUnavailable(
            f"PostgreSQL at {_server(url)} refused the connection: {error}; "
            "check the user, password and database name in DATABASE_URL"
        ) from error
    assert pool is not None
    return pool


async def shares_backends(url: str, settings: Settings) -> bool:
    """Whether the server at ``url`` hands one PostgreSQL backend to several client
    connections in turn, as a pooler in transaction or statement mode does.

    Two connections ask which backend serves them; the second holds a transaction open and
    the first asks again. Connected to PostgreSQL itself, each connection keeps its own
    backend for its lifetime, so the answer is never a false yes. Behind such a pooler
    either the second is given the backend the first just used (a pooler reuses the last
    one freed), or the first is moved to another, or it waits for one (a pool of one
    backend: no answer within DB_CONNECT_TIMEOUT).
    """
    first = await _probe_connection(url, settings)
    try:
        second = await _probe_connection(url, settings)
        try:
            return await _moves_backends(first, second, seconds=settings.db_connect_timeout)
        finally:
            await _close(second, settings)
    finally:
        await _close(first, settings)


async def _moves_backends(
    first: asyncpg.Connection[asyncpg.Record],
    second: asyncpg.Connection[asyncpg.Record],
    *,
    seconds: float,
) -> bool:
    """The probe of ``shares_backends`` on its two connections, within ``seconds``."""
    asked_again = False
    try:
        async with asyncio.timeout(seconds):
            backend = await first.fetchval("SELECT pg_backend_pid()")
            async with second.transaction():
                if await second.fetchval("SELECT pg_backend_pid()") == backend:
                    return True
                asked_again = True
                return bool(await first.fetchval("SELECT pg_backend_pid()") != backend)
    except TimeoutError:
        if asked_again:
            return True  # the first waited for a backend while the second held one
        raise


async def _probe_connection(url: str, settings: Settings) -> asyncpg.Connection[asyncpg.Record]:
    connection: asyncpg.Connection[asyncpg.Record] = await asyncpg.connect(
        url, statement_cache_size=0, timeout=settings.db_connect_timeout
    )
    return connection


async def _close(connection: asyncpg.Connection[asyncpg.Record], settings: Settings) -> None:
    """Close a probe's connection politely, or else at once (its answer is what counts)."""
    try:
        await connection.close(timeout=settings.db_connect_timeout)
    except Exception:
        connection.terminate()


def _server(url: str) -> str:
    """HOST:PORT/DATABASE of a DATABASE_URL, without its user and password (a socket
    directory given as ``?host=`` is shown as the host)."""
    rest = url.partition("://")[2]
    location, _, query = rest.partition("?")
    hosts, _, database = location.rpartition("@")[2].partition("/")
    if not hosts:
        params = dict(part.partition("=")[::2] for part in query.split("&"))
        hosts = unquote(params.get("host", "localhost"))
        hosts += f":{params['port']}" if params.get("port") else ""
    return f"{hosts}/{database}" if database else hosts


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
