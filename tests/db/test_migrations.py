"""Migrations: up, rollback of every one, and up again leave the same schema (dbmate's dump)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from tests.conftest import MIGRATIONS, ROOT, dbmate
from tests.pgserver import TempServer


@pytest.fixture
def empty_database_url(pg_server: TempServer) -> Iterator[str]:
    """URL of a new, empty database (no migrations) on the current server."""
    name = f"empty_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(pg_server.url(), autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"{pg_server.url(name)}&sslmode=disable"
    finally:
        with psycopg.connect(pg_server.url(), autocommit=True) as admin:
            admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


def user_objects(url: str) -> list[str]:
    """Relations, functions and types left in the public schema, besides dbmate's own table."""
    with psycopg.connect(url.replace("&sslmode=disable", "")) as conn:
        rows = conn.execute(
            """
            SELECT 'relation ' || relname FROM pg_class
            WHERE relnamespace = 'public'::regnamespace AND relname NOT LIKE 'schema_migrations%'
            UNION ALL
            SELECT 'function ' || proname FROM pg_proc WHERE pronamespace = 'public'::regnamespace
            UNION ALL
            SELECT 'type ' || typname FROM pg_type
            WHERE typnamespace = 'public'::regnamespace AND typrelid = 0 AND typelem = 0
            ORDER BY 1
            """
        ).fetchall()
    return [row[0] for row in rows]


def dump(url: str, path: Path, *args: str) -> str:
    """Run dbmate with its schema dump written to ``path``; return the dump."""
    dbmate(url, *args, schema_file=path)
    return path.read_text()


def test_up_rollback_of_every_migration_and_up_again_leave_the_same_schema(
    empty_database_url: str, tmp_path: Path
) -> None:
    migrations = sorted(MIGRATIONS.glob("*.sql"))
    first = dump(empty_database_url, tmp_path / "first.sql", "up")
    assert user_objects(empty_database_url)

    for _ in migrations:
        dbmate(empty_database_url, "rollback")
    assert user_objects(empty_database_url) == []
    assert "Applied: 0" in dbmate(empty_database_url, "status")

    second = dump(empty_database_url, tmp_path / "second.sql", "up")
    assert second == first
    third = dump(empty_database_url, tmp_path / "third.sql", "up")  # nothing left to apply
    assert third == first
    for migration in migrations:
        assert f"('{migration.name.split('_')[0]}')" in first


def test_db_schema_sql_is_the_dump_of_the_migrations(
    empty_database_url: str, tmp_path: Path
) -> None:
    def without_server_version(schema: str) -> list[str]:
        return [line for line in schema.splitlines() if not line.startswith("-- Dumped from")]

    fresh = dump(empty_database_url, tmp_path / "schema.sql", "up")
    committed = (ROOT / "db" / "schema.sql").read_text()
    assert without_server_version(fresh) == without_server_version(committed)
