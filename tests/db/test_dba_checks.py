"""The DBA checks of make lint fail on what a careful reviewer would stop.

Each test copies the inputs (db/migrations, or sqlc.yaml with queries/ and the migrations)
to a temporary directory, adds a deliberately bad file, and runs the Makefile's own target
on the copy: ``lint-migrations`` (squawk) or ``vet`` (sqlc vet on this test's database, a
clone of the migrated template). The project's own files pass the same targets.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from tests.conftest import MIGRATIONS, ROOT

BAD_MIGRATION = """\
-- migrate:up
SET LOCAL lock_timeout = '2s';
SET LOCAL statement_timeout = '10s';
CREATE INDEX chat_messages_created_at_idx ON chat_messages (created_at);
ALTER TABLE chat_messages ALTER COLUMN token_count TYPE bigint;

-- migrate:down
DROP INDEX chat_messages_created_at_idx;
ALTER TABLE chat_messages ALTER COLUMN token_count TYPE integer;
"""

BAD_QUERIES = """\
-- name: SearchChunks :many
-- Deliberately bad: no index serves a search of the chunks' text.
SELECT * FROM document_chunks
WHERE (owner_id = @user_id::uuid OR owner_id IS NULL)
  AND content LIKE '%' || @needle::text || '%';

-- name: ListAllSessions :many
-- Deliberately bad: the sessions of every user.
SELECT * FROM chat_sessions
ORDER BY last_activity_at DESC
LIMIT 10;

-- name: SearchChunksForWorker :many
-- Background work may scan, and is not scoped to a user.
SELECT * FROM document_chunks
WHERE content LIKE '%' || @needle::text || '%';
"""


def make(target: str, **variables: str) -> subprocess.CompletedProcess[str]:
    """Run a target of the project's Makefile with this interpreter's venv, never reinstalling it."""
    venv = Path(sys.prefix)
    # Not the jobserver of a make that runs these tests: this make runs alone.
    env = {k: v for k, v in os.environ.items() if k not in {"MAKEFLAGS", "MFLAGS", "MAKELEVEL"}}
    command = [
        "make", "--no-print-directory", "-C", str(ROOT),
        f"VENV={venv}", f"--old-file={venv / '.installed-dev'}", target,
        *(f"{name}={value}" for name, value in variables.items()),
    ]  # fmt: skip
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)


def copy_migrations(tmp_path: Path) -> Path:
    copy = tmp_path / "db" / "migrations"
    shutil.copytree(MIGRATIONS, copy)
    return copy


def test_the_project_migrations_pass_squawk() -> None:
    result = make("lint-migrations")
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_blocking_migration_fails_squawk_with_its_rules(tmp_path: Path) -> None:
    migrations = copy_migrations(tmp_path)
    (migrations / "20990101000000_add_bad_things.sql").write_text(BAD_MIGRATION)
    result = make("lint-migrations", MIGRATIONS_DIR=str(migrations))
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert "db/migrations/20990101000000_add_bad_things.sql" in output
    # A plain CREATE INDEX blocks writes; ALTER COLUMN ... TYPE rewrites the table.
    assert "require-concurrent-index-creation" in output
    assert "changing-column-type" in output
    # Only the new file is reported: the applied ones are accepted in db/squawk.toml.
    assert output.count("db/migrations/") == output.count("20990101000000_add_bad_things")


def test_the_templates_pass_once_filled_in_and_fail_before(tmp_path: Path) -> None:
    migrations = copy_migrations(tmp_path)
    for name, flags in (
        ("add_chat_messages_rating", {}),
        ("create_x_index", {"CONCURRENTLY": "1"}),
    ):
        result = make("migration", NAME=name, MIGRATIONS_DIR=str(migrations), **flags)
        assert result.returncode == 0, result.stdout + result.stderr
    [plain] = migrations.glob("*_add_chat_messages_rating.sql")
    [index] = migrations.glob("*_create_x_index.sql")
    text = plain.read_text()
    assert "-- migrate:up\n" in text
    assert "-- migrate:down\n" in text
    assert "SET LOCAL lock_timeout = '2s';" in text
    assert "-- migrate:up transaction:false\n" in index.read_text()

    unfilled = make("lint-migrations", MIGRATIONS_DIR=str(migrations))
    assert unfilled.returncode != 0
    assert f"{plain.name}: TODO left from the template" in unfilled.stdout + unfilled.stderr

    plain.write_text(
        text.replace("TODO one line: what this changes, and what needs it.", "answer ratings.")
        .replace("\n\n\n-- migrate:down", "\nALTER TABLE chat_messages ADD COLUMN rating smallint;\n\n-- migrate:down")
    )  # fmt: skip
    index.write_text(
        index.read_text()
        .replace("TODO one line: which query this index serves.", "ratings by time.")
        .replace("TODO_table_columns_idx", "chat_messages_created_at_idx")
        .replace("TODO_table (TODO_columns)", "chat_messages (created_at)")
    )
    filled = make("lint-migrations", MIGRATIONS_DIR=str(migrations))
    assert filled.returncode == 0, filled.stdout + filled.stderr


def copy_sqlc_inputs(tmp_path: Path) -> Path:
    shutil.copy2(ROOT / "sqlc.yaml", tmp_path / "sqlc.yaml")
    shutil.copytree(ROOT / "queries", tmp_path / "queries")
    copy_migrations(tmp_path)
    return tmp_path / "sqlc.yaml"


def test_vet_passes_the_project_queries_and_fails_the_bad_ones(
    tmp_path: Path, database_url: str
) -> None:
    config = copy_sqlc_inputs(tmp_path)
    (tmp_path / "queries" / "zz_bad.sql").write_text(BAD_QUERIES)
    result = make("vet", SQLC_CONFIG=str(config), VET_DATABASE_URL=database_url)
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    # sqlc vet reports "<file>: <query>: <rule>: <message>".
    reports = [line.split(": ") for line in output.splitlines()]
    failures = sorted(report[1:3] for report in reports if report[0].endswith(".sql"))
    # The project's queries pass; of the bad ones, the scan with no usable index and the
    # query of every user's sessions fail, each with its rule; background work may scan.
    assert failures == [
        ["ListAllSessions", "user-scoped"],
        ["SearchChunks", "hot-query-seq-scan"],
    ], output
