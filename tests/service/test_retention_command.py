"""`python -m service retention --inactive-days N [--dry-run]`: the dry run lists the inactive
sessions and counts what the purge then deletes, exactly; the purge writes audit rows with
its counts and leaves everything recent alone. The worker runs it on a schedule when
RETENTION_DAYS is set."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import psycopg
from starlette.testclient import TestClient

from service.app import create_app
from tests.conftest import ROOT
from tests.service.conftest import app_settings, sign_up


def retention(database_url: str, cwd: Path, *args: str, **environ: str) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "service", "retention", *args],
        cwd=cwd,
        env={
            "PATH": os.environ["PATH"],
            "HOME": str(cwd),
            "PYTHONPATH": str(ROOT),
            "DATABASE_URL": database_url,
            **environ,
        },
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def counts(output: str) -> dict[str, str]:
    return dict(
        re.findall(
            r"^  (sessions|messages|expired credentials|document contents)\s+(.+)$", output, re.M
        )
    )


def table_counts(postgresql: psycopg.Connection[Any]) -> dict[str, int]:
    found = {}
    for table in ("chat_sessions", "chat_messages", "user_credentials", "document_sources"):
        row = postgresql.execute(f"SELECT count(*) FROM {table}").fetchone()
        assert row is not None
        found[table] = row[0]
    postgresql.commit()
    return found


def test_the_dry_run_counts_exactly_what_the_purge_then_deletes(
    database_url: str, postgresql: psycopg.Connection[Any], tmp_path: Path
) -> None:
    settings = app_settings(database_url)
    with TestClient(create_app(settings)) as client:
        users = [sign_up(client) for _ in range(3)]
        for headers in users:
            for n in range(2):  # a second session of two more turns per user
                client.post(
                    "/chat", json={"message": f"more {n}", "session_id": "second"}, headers=headers
                )
            document = client.post("/documents", json={"text": "notes on paging"}, headers=headers)
            assert document.status_code == 202
            document_id = document.json()["id"]
            deadline = time.monotonic() + 60
            while (
                client.get(f"/documents/{document_id}", headers=headers).json()["status"]
                != "completed"
            ):
                assert time.monotonic() < deadline
                time.sleep(0.05)
    # Two users' first sessions went quiet 40 days ago; one credential expired.
    postgresql.execute(
        "UPDATE chat_sessions SET last_activity_at = now() - interval '40 days'"
        " WHERE client_key IS NULL AND id IN (SELECT id FROM chat_sessions WHERE client_key IS NULL"
        " ORDER BY id LIMIT 2)"
    )
    postgresql.execute(
        "UPDATE user_credentials SET created_at = now() - interval '60 days',"
        " expires_at = now() - interval '1 day'"
        " WHERE id = (SELECT id FROM user_credentials ORDER BY id LIMIT 1)"
    )
    postgresql.commit()
    stale = postgresql.execute(
        "SELECT id FROM chat_sessions WHERE last_activity_at < now() - interval '30 days'"
    ).fetchall()
    postgresql.commit()
    before = table_counts(postgresql)

    dry = retention(
        database_url, tmp_path, "--inactive-days", "30", "--dry-run",
        RETENTION_DROP_DOCUMENT_CONTENT="true",
    )  # fmt: skip

    assert "dry run, nothing is deleted" in dry
    assert table_counts(postgresql) == before
    listed = re.findall(
        r"^  session (\S+)  user (\S+)  last active .* (\d+) message\(s\)$", dry, re.M
    )
    assert sorted(session for session, _, _ in listed) == sorted(str(row[0]) for row in stale)
    planned = counts(dry)
    assert planned == {
        "sessions": "2",
        "messages": "4",  # each first session: a question and its answer
        "expired credentials": "1",
        "document contents": planned["document contents"],
    }
    assert re.fullmatch(r"3 \(\d+ bytes\)", planned["document contents"])

    purged = retention(
        database_url, tmp_path, "--inactive-days", "30", RETENTION_DROP_DOCUMENT_CONTENT="true"
    )

    assert "purged:" in purged
    assert counts(purged) == planned
    after = table_counts(postgresql)
    assert after == {
        "chat_sessions": before["chat_sessions"] - 2,
        "chat_messages": before["chat_messages"] - 4,
        "user_credentials": before["user_credentials"] - 1,
        "document_sources": before["document_sources"] - 3,
    }
    audit = postgresql.execute(
        "SELECT target_type, details FROM audit_log WHERE action = 'retention.purged' ORDER BY id"
    ).fetchall()
    postgresql.commit()
    assert [(target, {k: v for k, v in d.items() if k != "cutoff"}) for target, d in audit] == [
        ("chat_sessions", {"sessions": 2, "messages": 4}),
        ("user_credentials", {"credentials": 1}),
        ("document_sources", {"document_contents": 3, "bytes": audit[2][1]["bytes"]}),
    ]
    # Nothing left to purge: the next dry run says so, and so does the purge.
    again = counts(retention(database_url, tmp_path, "--inactive-days", "30", "--dry-run"))
    assert again == {
        "sessions": "0",
        "messages": "0",
        "expired credentials": "0",
        "document contents": "off (set RETENTION_DROP_DOCUMENT_CONTENT=true to purge them)",
    }


def test_the_worker_purges_on_its_schedule_when_retention_days_is_set(
    database_url: str, postgresql: psycopg.Connection[Any]
) -> None:
    settings = app_settings(database_url, retention_days=30, retention_interval_seconds=0.2)
    with TestClient(create_app(settings)) as client:
        headers = sign_up(client)
        postgresql.execute("UPDATE chat_sessions SET last_activity_at = now() - interval '31 days'")
        postgresql.commit()
        deadline = time.monotonic() + 30
        while client.get("/sessions", headers=headers).json()["sessions"]:
            assert time.monotonic() < deadline, "the scheduled purge did not run"
            time.sleep(0.1)
    row = postgresql.execute(
        "SELECT details FROM audit_log WHERE action = 'retention.purged'"
        " AND target_type = 'chat_sessions'"
    ).fetchone()
    postgresql.commit()
    assert row is not None
    assert (row[0]["sessions"], row[0]["messages"]) == (1, 2)


def test_inactive_days_must_be_positive(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "service", "retention", "--inactive-days", "0"],
        cwd=tmp_path,
        env={"PATH": os.environ["PATH"], "PYTHONPATH": str(ROOT), "HOME": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert result.stderr.strip() == "--inactive-days must be at least 1"
