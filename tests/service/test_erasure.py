"""DELETE /me erases the caller: afterwards no table holds their id or anything they wrote
(audit rows keep the fact and the ids, their details erased), the vector store holds no point
of theirs, their credential is refused, and another user is untouched. The vector part is a
durable job: recorded with the deletion, it survives a failure or a crash before it runs,
and the next worker run completes it."""

from __future__ import annotations

import time
import uuid
from typing import Any

import psycopg
from psycopg import sql
from psycopg.types.json import Jsonb
from starlette.testclient import TestClient

from service import store
from service.app import create_app
from service.settings import Settings
from tests.service.conftest import app_settings, sign_up, user_id_of


def populate(
    client: TestClient, postgresql: psycopg.Connection[Any], name: str
) -> tuple[dict[str, str], uuid.UUID, list[str]]:
    """A user with a cited answer over a document of their own, an external identity, an
    email, and an audit row whose details name a URL: their header, id and secrets."""
    headers = sign_up(client)
    secrets = [f"{name}-memo-7781", f"{name}-question-5512", f"{name}@mail.example"]
    text = f"# {name} memo\n\nThe {secrets[0]} says keyset pagination pages by position."
    created = client.post(
        "/documents", json={"text": text, "title": f"{name} memo"}, headers=headers
    )
    assert created.status_code == 202, created.text
    document_id = created.json()["id"]
    deadline = time.monotonic() + 60
    while client.get(f"/documents/{document_id}", headers=headers).json()["status"] != "completed":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    asked = client.post(
        "/chat",
        json={"message": f"{secrets[1]}: how does keyset pagination page?"},
        headers=headers,
    )
    assert asked.status_code == 200, asked.text
    assert asked.json()["sources"], "the answer cites the memo"
    user_id = user_id_of(postgresql, asked.json()["session_id"])
    postgresql.execute(
        "UPDATE users SET email = %s, name = %s, is_anonymous = false WHERE id = %s",
        (secrets[2], name, user_id),
    )
    postgresql.execute(
        "INSERT INTO user_identities (issuer, subject, user_id, email, name)"
        " VALUES ('https://issuer.example', %s, %s, %s, %s)",
        (f"{name}-subject", user_id, secrets[2], name),
    )
    # What a failed URL document's audit row says: the URL, in its details.
    secrets.append(f"https://{name}-private.example/report")
    postgresql.execute(
        "INSERT INTO audit_log (actor_user_id, action, target_type, target_id, details)"
        " VALUES (%s, 'document.failed', 'document', %s, %s)",
        (
            user_id,
            str(uuid.uuid4()),
            Jsonb({"error": f"cannot fetch {secrets[3]}"}),
        ),
    )
    postgresql.commit()
    return headers, user_id, secrets


def holding(postgresql: psycopg.Connection[Any], needle: str, *, tables: list[str]) -> list[str]:
    """The tables with a row whose text (bytea as hex too) contains ``needle``."""
    found = []
    hex_needle = needle.encode().hex()
    for table in tables:
        query = sql.SQL(
            "SELECT count(*) FROM {} AS r WHERE strpos(r::text, %s) > 0 OR strpos(r::text, %s) > 0"
        ).format(sql.Identifier(table))
        row = postgresql.execute(query, (needle, hex_needle)).fetchone()
        if row is not None and row[0]:
            found.append(table)
    postgresql.commit()
    return found


def public_tables(postgresql: psycopg.Connection[Any]) -> list[str]:
    rows = postgresql.execute(
        "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename"
    ).fetchall()
    postgresql.commit()
    return [row[0] for row in rows]


def points(client: TestClient, user_id: uuid.UUID) -> int:
    assert client.portal is not None
    vectors = client.app_state["vectors"]
    count: int = client.portal.call(vectors.count_owner_points, user_id)
    return count


def test_after_delete_me_no_table_and_no_vector_holds_anything_of_the_user(
    client: TestClient, postgresql: psycopg.Connection[Any]
) -> None:
    alice, alice_id, alice_secrets = populate(client, postgresql, "alice")
    bob, bob_id, bob_secrets = populate(client, postgresql, "bob")
    tables = public_tables(postgresql)
    assert {"users", "chat_messages", "document_sources", "rate_limits", "vector_erasures"} <= set(
        tables
    )
    assert holding(postgresql, str(alice_id), tables=tables), "the scan finds the user before"
    assert holding(postgresql, alice_secrets[0], tables=tables)
    assert points(client, alice_id) > 0
    bob_export = client.get("/me/export", headers=bob).json()
    bob_points = points(client, bob_id)

    response = client.delete("/me", headers=alice)

    assert response.status_code == 204, response.text
    cookie = response.headers["set-cookie"]
    assert cookie.startswith("chat_token=")
    assert "Max-Age=0" in cookie or "expires=" in cookie
    assert client.get("/sessions", headers=alice).status_code == 401
    assert client.delete("/me", headers=alice).status_code == 401
    # Every table, every column: neither the user's id nor a word of theirs, except that the
    # audit log keeps its rows' actor and target ids (the fact of what happened).
    assert holding(postgresql, str(alice_id), tables=tables) == ["audit_log"]
    for secret in alice_secrets:
        assert holding(postgresql, secret, tables=tables) == [], secret
    details = postgresql.execute(
        "SELECT action, details FROM audit_log WHERE actor_user_id = %s ORDER BY id", (alice_id,)
    ).fetchall()
    postgresql.commit()
    assert details[-1] == ("user.deleted", {})
    assert {action for action, _ in details} >= {"user.created", "document.failed"}
    assert all(detail == {"erased": True} for _, detail in details[:-1])
    assert points(client, alice_id) == 0
    # The other user is untouched.
    assert client.get("/me/export", headers=bob).json() | {"exported_at": None} == bob_export | {
        "exported_at": None
    }
    assert points(client, bob_id) == bob_points
    for secret in bob_secrets:
        assert holding(postgresql, secret, tables=tables), secret


def test_the_vector_part_is_a_durable_job_finished_by_the_next_worker_run(
    database_url: str, postgresql: psycopg.Connection[Any]
) -> None:
    # No background worker: the test runs the worker's steps itself; a failed attempt is
    # retried after 50 ms.
    settings: Settings = app_settings(database_url, ingest_worker=False, erasure_retry_seconds=0.05)
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        assert client.portal is not None
        ingestor = client.app_state["ingestor"]
        erasure = client.app_state["erasure"]
        vectors = client.app_state["vectors"]
        db = client.app_state["db"]
        users = []
        for name in ("carol", "dave", "erin"):
            headers = sign_up(client)
            document = client.post(
                "/documents", json={"text": f"{name} notes about paging"}, headers=headers
            )
            assert document.status_code == 202
            while client.portal.call(ingestor.run_once) is not None:
                pass
            session_id = client.get("/sessions", headers=headers).json()["sessions"][0]["id"]
            users.append((headers, user_id_of(postgresql, session_id)))
        (carol, carol_id), (_, dave_id), (erin, erin_id) = users
        assert all(points(client, user_id) > 0 for _, user_id in users)

        # The vector store fails: the rows are gone, the points wait for the worker (202).
        original = vectors.delete_owner

        async def unreachable(owner_id: uuid.UUID) -> None:
            raise ConnectionError("vector store unreachable")

        vectors.delete_owner = unreachable
        response = client.delete("/me", headers=carol)
        assert response.status_code == 202, response.text
        assert client.get("/sessions", headers=carol).status_code == 401
        [job] = postgresql.execute(
            "SELECT owner_id, attempts, last_error FROM vector_erasures"
        ).fetchall()
        postgresql.commit()
        assert job == (carol_id, 1, "the vector store failed (ConnectionError)")
        assert points(client, carol_id) > 0
        time.sleep(0.1)  # the failed attempt's claim is stale: the job is due again
        assert client.portal.call(erasure.run_once) is False  # and fails again
        vectors.delete_owner = original

        # A process that dies after the deletion commits, before the vector part: only the
        # transaction ran.
        client.portal.call(lambda: store.erase_user(db, erin_id, rate_limit_buckets=["chat_turns"]))
        assert points(client, erin_id) > 0
        # This process's credential cache hears of it by NOTIFY, a moment later (not through
        # the use case, which drops the entry at once).
        refused_by = time.monotonic() + 5
        while client.get("/sessions", headers=erin).status_code != 401:
            assert time.monotonic() < refused_by, "the erased user's token is still accepted"
            time.sleep(0.05)

        # The next worker run (here, a new one, as after a restart) finishes both jobs.
        time.sleep(0.1)
        restarted = type(erasure)(db, vectors, settings, client.app_state["limits"])
        while client.portal.call(restarted.run_once):
            pass
        assert postgresql.execute("SELECT count(*) FROM vector_erasures").fetchone() == (0,)
        postgresql.commit()
        assert points(client, carol_id) == 0
        assert points(client, erin_id) == 0
        assert points(client, dave_id) > 0  # untouched throughout
