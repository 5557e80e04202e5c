"""Migrations: up, rollback of every one, and up again leave the same schema; db/schema.sql is it.

"The same schema" is what the catalogs say, normalised by PostgreSQL's own ``pg_get_*def``
functions, not the bytes of a ``pg_dump``: those change from run to run (the per-run
``\\restrict`` key, options some servers add to columns) while the schema does not.
"""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest

from tests.conftest import MIGRATIONS, ROOT, dbmate
from tests.pgserver import TempServer
from tools import localpg

# Every schema a migration could create objects in.
USER_SCHEMAS = (
    "(SELECT oid FROM pg_namespace"
    " WHERE nspname NOT LIKE 'pg\\_%' AND nspname <> 'information_schema')"
)

# One line per object, by kind: what each is, never its OID or physical details. Relation
# names print schema-qualified outside the search path (``regclass``).
SCHEMA_OBJECTS = {
    "schema": "SELECT nspname FROM pg_namespace WHERE oid IN {schemas}",
    "extension": "SELECT format('%s %s in %s', extname, extversion, extnamespace::regnamespace)"
    " FROM pg_extension",
    "relation": """
        SELECT format('%s kind=%s persistence=%s row_security=%s/%s options=%s',
                      oid::regclass, relkind, relpersistence, relrowsecurity,
                      relforcerowsecurity, reloptions)
        FROM pg_class WHERE relnamespace IN {schemas} AND relkind NOT IN ('i', 'I')
    """,
    # Columns in order (their rank, not attnum, which dropped columns leave gaps in). Not
    # attoptions: per-column planner options that some servers' dumps add on their own.
    "column": """
        SELECT format('%s #%s %s %s%s%s%s%s', a.attrelid::regclass,
                      rank() OVER (PARTITION BY a.attrelid ORDER BY a.attnum),
                      a.attname, format_type(a.atttypid, a.atttypmod),
                      CASE WHEN a.attnotnull THEN ' NOT NULL' ELSE '' END,
                      ' DEFAULT ' || pg_get_expr(d.adbin, d.adrelid),
                      ' IDENTITY ' || nullif(a.attidentity::text, ''),
                      ' GENERATED ' || nullif(a.attgenerated::text, ''))
               || coalesce(' COLLATE ' || nullif(a.attcollation, t.typcollation)::regcollation,
                           '')
        FROM pg_attribute a
        JOIN pg_class c ON c.oid = a.attrelid
        JOIN pg_type t ON t.oid = a.atttypid
        LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
        WHERE c.relnamespace IN {schemas} AND c.relkind IN ('r', 'p', 'v', 'm', 'f', 'c')
          AND a.attnum > 0 AND NOT a.attisdropped
    """,
    "constraint": """
        SELECT format('%s on %s: %s', conname, coalesce(conrelid::regclass::text,
                      contypid::regtype::text), pg_get_constraintdef(oid))
        FROM pg_constraint WHERE connamespace IN {schemas}
    """,
    "index": """
        SELECT pg_get_indexdef(i.indexrelid)
               || CASE WHEN i.indisvalid THEN '' ELSE ' (INVALID)' END
        FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
        WHERE c.relnamespace IN {schemas}
    """,
    "sequence": """
        SELECT format('%s %s start %s increment %s min %s max %s cache %s cycle %s',
                      seqrelid::regclass, format_type(seqtypid, NULL), seqstart, seqincrement,
                      seqmin, seqmax, seqcache, seqcycle)
        FROM pg_sequence JOIN pg_class c ON c.oid = seqrelid
        WHERE c.relnamespace IN {schemas}
    """,
    "view": """
        SELECT format('%s: %s', oid::regclass, pg_get_viewdef(oid))
        FROM pg_class WHERE relnamespace IN {schemas} AND relkind IN ('v', 'm')
    """,
    "function": """
        SELECT CASE WHEN prokind IN ('f', 'p') THEN pg_get_functiondef(oid)
                    ELSE format('%s %s', prokind, oid::regprocedure) END
        FROM pg_proc WHERE pronamespace IN {schemas}
    """,
    "trigger": """
        SELECT format('%s (enabled: %s)', pg_get_triggerdef(t.oid), t.tgenabled)
        FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
        WHERE c.relnamespace IN {schemas} AND NOT t.tgisinternal
    """,
    # Types of their own: enums with their labels in order, domains, ranges, composites (whose
    # attributes are columns above); not the row and array types every table gets.
    "type": """
        SELECT format('%s %s', t.oid::regtype, t.typtype)
               || coalesce(' labels ' || (SELECT string_agg(quote_literal(enumlabel), ', '
                                                 ORDER BY enumsortorder)
                                          FROM pg_enum WHERE enumtypid = t.oid), '')
               || CASE WHEN t.typtype = 'd'
                       THEN format(' over %s not null %s default %s',
                                   format_type(t.typbasetype, t.typtypmod), t.typnotnull,
                                   t.typdefault)
                       ELSE '' END
        FROM pg_type t LEFT JOIN pg_class c ON c.oid = t.typrelid
        WHERE t.typnamespace IN {schemas} AND (t.typrelid = 0 OR c.relkind = 'c')
          AND t.typcategory <> 'A'
    """,
    "statistics": """
        SELECT pg_get_statisticsobjdef(oid) FROM pg_statistic_ext
        WHERE stxnamespace IN {schemas}
    """,
    "policy": """
        SELECT format('%s on %s: permissive %s for %s to %s using %s with check %s',
                      p.polname, p.polrelid::regclass, p.polpermissive, p.polcmd,
                      p.polroles::regrole[], pg_get_expr(p.polqual, p.polrelid),
                      pg_get_expr(p.polwithcheck, p.polrelid))
        FROM pg_policy p JOIN pg_class c ON c.oid = p.polrelid
        WHERE c.relnamespace IN {schemas}
    """,
    # COMMENT ON, which sqlc turns into docstrings; objects made before initdb ended (OIDs
    # below 16384, FirstNormalObjectId) are PostgreSQL's own.
    "comment": """
        SELECT format('%s %s: %s', o.type, o.identity, d.description)
        FROM pg_description d, pg_identify_object(d.classoid, d.objoid, d.objsubid) o
        WHERE d.objoid >= 16384
    """,
}


def schema(url: str) -> list[str]:
    """What the database's schema is: one line per object, sorted."""
    lines: list[str] = []
    with psycopg.connect(url) as conn:
        for kind, query in SCHEMA_OBJECTS.items():
            rows = conn.execute(query.format(schemas=USER_SCHEMAS)).fetchall()
            lines += [f"{kind} {row[0]}" for row in rows]
    return sorted(lines)


def differences(expected: list[str], actual: list[str]) -> str:
    """The objects only one schema has: ``-`` only the expected one, ``+`` only the actual."""
    return "\n".join(
        [f"- {line}" for line in expected if line not in actual]
        + [f"+ {line}" for line in actual if line not in expected]
    )


def applied(url: str) -> list[str]:
    """The versions dbmate has recorded as applied, in order."""
    with psycopg.connect(url) as conn:
        rows = conn.execute("SELECT version FROM schema_migrations ORDER BY version").fetchall()
    return [row[0] for row in rows]


def user_objects(url: str) -> list[str]:
    """Relations, functions and types left in the public schema, besides dbmate's own table."""
    with psycopg.connect(url) as conn:
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


@pytest.fixture
def new_database(pg_server: TempServer) -> Iterator[Callable[[], str]]:
    """Makes new, empty databases (no migrations) on the current server: their URLs."""
    names: list[str] = []

    def create() -> str:
        name = f"empty_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(pg_server.url(), autocommit=True) as admin:
            admin.execute(f'CREATE DATABASE "{name}"')
        names.append(name)
        return f"{pg_server.url(name)}&sslmode=disable"

    try:
        yield create
    finally:
        with psycopg.connect(pg_server.url(), autocommit=True) as admin:
            for name in names:
                admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


def test_up_rollback_of_every_migration_and_up_again_leave_the_same_schema(
    new_database: Callable[[], str],
) -> None:
    url = new_database()
    versions = sorted(migration.name.split("_")[0] for migration in MIGRATIONS.glob("*.sql"))
    dbmate(url, "up")
    first = schema(url)
    assert user_objects(url)
    assert applied(url) == versions

    for _ in versions:
        dbmate(url, "rollback")
    assert user_objects(url) == []
    assert applied(url) == []
    assert "Applied: 0" in dbmate(url, "status")

    dbmate(url, "up")
    second = schema(url)
    assert second == first, differences(first, second)
    dbmate(url, "up")  # nothing left to apply
    third = schema(url)
    assert third == first, differences(first, third)
    assert applied(url) == versions


def load(url: str, schema_file: Path) -> None:
    """Run a schema dump through psql, as it is meant to be read.

    The dump comes from the embedded PostgreSQL 18's pg_dump: an older server refuses the
    session settings it does not have (``SET transaction_timeout``), and only those.
    """
    result = subprocess.run(
        [str(localpg.bin_dir() / "psql"), "--quiet", "--no-psqlrc", f"--file={schema_file}", url],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    errors = [
        line
        for line in result.stderr.splitlines()
        if "ERROR:" in line and "unrecognized configuration parameter" not in line
    ]
    assert errors == [], result.stderr


def test_db_schema_sql_is_the_schema_the_migrations_make(
    new_database: Callable[[], str], tmp_path: Path
) -> None:
    migrated, dumped, committed = new_database(), new_database(), new_database()
    dbmate(migrated, "up", schema_file=tmp_path / "schema.sql")
    expected = schema(migrated)
    # The dump dbmate writes (make migrate) holds the whole schema...
    load(dumped, tmp_path / "schema.sql")
    actual = schema(dumped)
    assert actual == expected, "dbmate's dump misses objects:\n" + differences(expected, actual)
    # ...and the committed one is that dump.
    load(committed, ROOT / "db" / "schema.sql")
    actual = schema(committed)
    stale = "db/schema.sql is not what the migrations make (run make migrate):\n"
    assert actual == expected, stale + differences(expected, actual)
    assert applied(committed) == applied(migrated), stale
