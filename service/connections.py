"""Opening the clients the service holds for its lifetime: the asyncpg pool and the vectors."""

from __future__ import annotations

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

__all__ = ["DatabaseUnavailable", "open_pool", "open_vectors"]


class DatabaseUnavailable(Exception):
    """PostgreSQL could not be reached, or refused the connection: one line naming the
    server (never the credentials), the reason and what to do."""


async def open_pool(settings: Settings) -> Pool:
    """The asyncpg pool, with the codecs the generated code needs.

    TLS follows ``sslmode`` in DATABASE_URL (asyncpg reads it: disable, prefer, require,
    verify-ca, verify-full). A statement cache size of 0 suits PgBouncer's transaction
    pooling (Neon's pooler), which cannot keep named prepared statements.
    """
    url = settings.database_url
    if url is None:
        raise SettingsError(
            "DATABASE_URL: not set; set it to postgresql://USER:PASSWORD@HOST:PORT/DATABASE "
            "(make run sets it to the embedded PostgreSQL)"
        )
    try:
        pool = await asyncpg.create_pool(
            url,
            min_size=settings.db_pool_min_size,
            max_size=settings.db_pool_max_size,
            statement_cache_size=settings.db_statement_cache_size,
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
