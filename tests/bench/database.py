"""The benchmarks' own PostgreSQL: a throwaway embedded server, or BENCH_DATABASE_URL.

The embedded server loads pg_stat_statements, which counts the statements each operation
sends (level 4). Like the test servers it runs with fsync off: the benchmarks compare the
client-side cost of data layers on one server, and a disk flush per commit would hide it.
Unlike them it writes full-page images, whose WAL level 1 measures.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import asyncpg

from tests.conftest import dbmate
from tests.pgserver import embedded_server

TABLES = (
    "message_citations, chat_messages, chat_sessions, document_chunks, document_sources, "
    "documents, user_credentials, users"
)


@dataclass(frozen=True)
class BenchDatabase:
    url: str
    notes: str  # how the server was started, for the report


@contextmanager
def bench_database() -> Iterator[BenchDatabase]:
    """A migrated database; BENCH_DATABASE_URL must name an empty database the bench may fill."""
    given = os.environ.get("BENCH_DATABASE_URL")
    if given:
        dbmate(given, "--wait", "up")
        yield BenchDatabase(given, "BENCH_DATABASE_URL")
        return
    server = embedded_server(
        "shared_preload_libraries=pg_stat_statements",
        "max_connections=200",
        # As in production (the test servers turn it off): level 1 measures the WAL a chat turn
        # writes, full-page images after a checkpoint included.
        "full_page_writes=on",
    )
    try:
        url = server.url("postgres")
        dbmate(url, "up")
        yield BenchDatabase(
            url, "embedded, Unix socket, fsync off, full_page_writes on, shared_buffers 128MB"
        )
    finally:
        server.stop()
        server.remove()


async def server_version(url: str) -> str:
    conn = await asyncpg.connect(url)
    try:
        version: str = await conn.fetchval("SHOW server_version")
        return version
    finally:
        await conn.close()


async def empty(url: str) -> None:
    """Remove every row the benchmarks write, and the statistics about them."""
    conn = await asyncpg.connect(url)
    try:
        # CASCADE: with the tables that reference these (user_identities, and any added later).
        await conn.execute(f"TRUNCATE {TABLES} CASCADE")
        await conn.execute("VACUUM ANALYZE")
    finally:
        await conn.close()
