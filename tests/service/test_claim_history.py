"""Claiming anonymous history (issue 16, item 2): a request with a valid sign-in token and an
anonymous user's credential moves that user's sessions, messages, citations and private
documents (their vector points' owner too) to the signed-in user, once, atomically, audited;
the anonymous credential then names no one. A second user is untouched throughout."""

from __future__ import annotations

import asyncio
import datetime
import time
import uuid
from collections.abc import Iterator
from typing import Any

import asyncpg
import httpx
import psycopg
import pytest
from starlette.testclient import TestClient

from service import store
from service.app import create_app
from service.rag.vectors import ChunkPoint, VectorStore
from tests.rag.conftest import wait_for_document
from tests.service.conftest import serve, sign_up
from tests.service.issuer import Issuer, bearer, jwt_settings, loopback_issuer

SETTLE_SECONDS = 20.0  # bound on waiting for background work (ingestion, the point sync)


@pytest.fixture
def issuer() -> Iterator[Issuer]:
    with loopback_issuer() as running:
        running.add_key("rsa-1", "RSA")
        yield running


@pytest.fixture
def client(database_url: str, issuer: Issuer) -> Iterator[TestClient]:
    app = create_app(jwt_settings(database_url, issuer))
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


def anonymous_token(headers: dict[str, str]) -> str:
    return headers["Authorization"].removeprefix("Bearer ")


def claiming(issuer: Issuer, subject: str, anonymous: dict[str, str]) -> dict[str, str]:
    """Headers that sign ``subject`` in and present the anonymous user's token."""
    return bearer(issuer.token("rsa-1", subject=subject)) | {
        "X-Anonymous-Token": anonymous_token(anonymous)
    }


def add_document(client: TestClient, headers: dict[str, str], text: str) -> str:
    created = client.post("/documents", json={"text": text}, headers=headers)
    assert created.status_code in (200, 202), created.text
    document_id: str = created.json()["id"]
    assert wait_for_document(client, headers, document_id)["status"] == "completed"
    return document_id


def point_owners(client: TestClient, document_id: str) -> set[str]:
    """The owner payloads of the document's vector points, read from the app's engine."""
    vectors: VectorStore = client.app_state["vectors"]
    points = client.portal.call(vectors.document_points, uuid.UUID(document_id))  # type: ignore[union-attr]
    return {str(payload.get("owner")) for payload in points.values()}


def wait_until(check: Any, what: str) -> None:
    deadline = time.monotonic() + SETTLE_SECONDS
    while not check():
        assert time.monotonic() < deadline, f"{what} within {SETTLE_SECONDS} s"
        time.sleep(0.05)


def rows(database_url: str, query: str, *args: Any) -> list[tuple[Any, ...]]:
    with psycopg.connect(database_url) as conn:
        return conn.execute(query, args).fetchall()


def snapshot(client: TestClient, headers: dict[str, str]) -> dict[str, Any]:
    """What a user sees of their own data (but when a message row last changed: moving it to
    another owner is a change)."""
    sessions = client.get("/sessions", headers=headers).json()["sessions"]
    return {
        "me": client.get("/me", headers=headers).json(),
        "sessions": sessions,
        "messages": {
            session["id"]: [
                {name: value for name, value in message.items() if name != "updated_at"}
                for message in client.get(
                    f"/sessions/{session['id']}/messages", headers=headers
                ).json()["messages"]
            ]
            for session in sessions
        },
        "documents": client.get("/documents", headers=headers).json()["documents"],
    }


def test_signing_in_with_the_anonymous_token_moves_the_history_once(
    client: TestClient, issuer: Issuer, database_url: str
) -> None:
    anonymous = sign_up(client)
    first = client.get("/sessions", headers=anonymous).json()["sessions"][0]["id"]
    turn = client.post(
        "/chat", json={"message": "second question", "session_id": first}, headers=anonymous
    )
    assert turn.status_code == 200, turn.text
    memo = add_document(client, anonymous, "Zebrafish quartz memo.\n\nThe zebrafish eat quartz.")
    cited = client.post("/chat", json={"message": "what do zebrafish eat?"}, headers=anonymous)
    assert cited.json()["sources"], cited.text  # an answer with citations, to move too
    bystander = sign_up(client)
    add_document(client, bystander, "Bystander notes about herons.")
    bystander_before = snapshot(client, bystander)
    before = snapshot(client, anonymous)
    anonymous_id = before["me"]["user_id"]

    claimed = client.get("/me", headers=claiming(issuer, "alice", anonymous))
    assert claimed.status_code == 200, claimed.text
    me = claimed.json()
    assert me["user_id"] != anonymous_id
    assert me["anonymous"] is False
    assert me["counts"] == before["me"]["counts"] == {"sessions": 2, "messages": 6, "documents": 1}

    signed_in = bearer(issuer.token("rsa-1", subject="alice"))
    after = snapshot(client, signed_in)
    assert after["sessions"] == before["sessions"]
    assert after["messages"] == before["messages"]
    assert [doc["id"] for doc in after["documents"]] == [memo]
    cited_rows = rows(
        database_url,
        "SELECT user_id FROM message_citations WHERE message_id = %s",
        uuid.UUID(cited.json()["assistant_message_id"]),
    )
    assert cited_rows
    assert {str(row[0]) for row in cited_rows} == {me["user_id"]}

    # The anonymous credential names no one now, and the anonymous user is gone.
    gone = client.get("/sessions", headers=anonymous)
    assert gone.status_code == 401, gone.text
    assert rows(database_url, "SELECT 1 FROM users WHERE id = %s", uuid.UUID(anonymous_id)) == []
    audit = rows(
        database_url,
        "SELECT actor_user_id, target_id, details FROM audit_log WHERE action = 'history.claimed'",
    )
    assert [(str(actor), target) for actor, target, _ in audit] == [(me["user_id"], anonymous_id)]
    assert (audit[0][2]["sessions"], audit[0][2]["documents"]) == (2, 1)

    # The vector points follow: the new owner's retrieval finds the memo.
    wait_until(lambda: point_owners(client, memo) == {me["user_id"]}, "the points' owner moved")
    answer = client.post("/chat", json={"message": "what do zebrafish eat?"}, headers=signed_in)
    assert memo in {source["document_id"] for source in answer.json()["sources"]}, answer.text
    wait_until(lambda: not rows(database_url, "SELECT 1 FROM document_owner_syncs"), "jobs done")

    # The same request again claims nothing more, and writes no second audit row.
    again = client.get("/me", headers=claiming(issuer, "alice", anonymous))
    assert again.status_code == 200, again.text
    assert again.json()["counts"]["sessions"] == 3  # the zebrafish question started one
    assert len(rows(database_url, "SELECT 1 FROM audit_log WHERE action = 'history.claimed'")) == 1

    assert snapshot(client, bystander) == bystander_before


def test_the_anonymous_cookie_is_claimed_and_then_cleared(
    client: TestClient, issuer: Issuer
) -> None:
    started = client.post("/chat", json={"message": "hello from the page"})
    assert started.status_code == 200, started.text
    assert client.cookies.get("chat_token")
    claimed = client.get("/me", headers=bearer(issuer.token("rsa-1", subject="carol")))
    assert claimed.status_code == 200, claimed.text
    assert claimed.json()["counts"]["sessions"] == 1
    assert "chat_token=" in claimed.headers["set-cookie"]
    assert "max-age=0" in claimed.headers["set-cookie"].lower()
    assert not client.cookies.get("chat_token")
    sessions = client.get("/sessions", headers=bearer(issuer.token("rsa-1", subject="carol")))
    assert [s["id"] for s in sessions.json()["sessions"]] == [started.json()["session_id"]]


def test_content_the_user_already_holds_is_not_duplicated_and_its_points_go(
    client: TestClient, issuer: Issuer, database_url: str
) -> None:
    signed_in = bearer(issuer.token("rsa-1", subject="dave"))
    kept = add_document(client, signed_in, "Shared recipe: bread needs flour and water.")
    anonymous = sign_up(client)
    duplicate = add_document(client, anonymous, "Shared recipe: bread needs flour and water.")
    own = add_document(client, anonymous, "Only the anonymous user wrote about kites.")
    assert point_owners(client, duplicate)

    claimed = client.get("/me", headers=claiming(issuer, "dave", anonymous))
    assert claimed.status_code == 200, claimed.text
    documents = client.get("/documents", headers=signed_in).json()["documents"]
    assert sorted(doc["id"] for doc in documents) == sorted([kept, own])
    assert client.get(f"/documents/{duplicate}", headers=signed_in).status_code == 404
    wait_until(lambda: point_owners(client, duplicate) == set(), "the duplicate's points went")
    wait_until(lambda: point_owners(client, own) == {claimed.json()["user_id"]}, "points moved")
    assert point_owners(client, kept) == {claimed.json()["user_id"]}


def test_a_session_key_the_user_already_uses_stays_theirs(
    client: TestClient, issuer: Issuer
) -> None:
    signed_in = bearer(issuer.token("rsa-1", subject="erin"))
    mine = client.post(
        "/chat", json={"query": "mine", "session_id": "docs-widget"}, headers=signed_in
    )
    anonymous = sign_up(client)
    theirs = client.post(
        "/chat", json={"query": "theirs", "session_id": "docs-widget"}, headers=anonymous
    )
    assert mine.status_code == theirs.status_code == 200
    claimed = client.get("/me", headers=claiming(issuer, "erin", anonymous))
    assert claimed.status_code == 200, claimed.text
    assert claimed.json()["counts"]["sessions"] == 3  # erin's, and the anonymous user's two
    history = client.get("/history/docs-widget", headers=signed_in).json()["messages"]
    assert [m["content"] for m in history if m["role"] == "user"] == ["mine"]


def test_a_user_who_is_not_anonymous_cannot_be_claimed(
    client: TestClient, issuer: Issuer, database_url: str
) -> None:
    frank = bearer(issuer.token("rsa-1", subject="frank"))
    client.post("/sessions", json={"title": "frank's"}, headers=frank)
    frank_id = uuid.UUID(client.get("/me", headers=frank).json()["user_id"])

    async def issue_token() -> str:
        pool = await asyncpg.create_pool(database_url, init=store.init_connection)
        try:
            issued = await store.issue_credential(
                pool, frank_id, ttl=datetime.timedelta(hours=1), kind="api"
            )
        finally:
            await pool.close()
        return issued.token

    frank_token = {"Authorization": f"Bearer {asyncio.run(issue_token())}"}
    before = snapshot(client, frank)
    response = client.get("/me", headers=claiming(issuer, "grace", frank_token))
    assert response.status_code == 409, response.text
    assert response.json()["error"]["code"] == "not_claimable"
    assert snapshot(client, frank) == before
    assert client.get("/sessions", headers=frank_token).status_code == 200


def test_an_anonymous_token_that_names_no_one_claims_nothing(
    client: TestClient, issuer: Issuer
) -> None:
    anonymous = sign_up(client)
    assert client.post("/auth/logout", headers=anonymous).status_code == 204
    for token in (anonymous_token(anonymous), "not-a-token", "x" * 500):
        headers = bearer(issuer.token("rsa-1", subject="heidi")) | {"X-Anonymous-Token": token}
        response = client.get("/me", headers=headers)
        assert response.status_code == 200, response.text
        assert response.json()["counts"]["sessions"] == 0


def test_an_anonymous_token_beside_another_opaque_token_is_ignored(client: TestClient) -> None:
    """Only a sign-in claims: one anonymous user cannot take another's history."""
    victim, intruder = sign_up(client), sign_up(client)
    headers = intruder | {"X-Anonymous-Token": anonymous_token(victim)}
    assert client.get("/me", headers=headers).json()["counts"]["sessions"] == 1
    assert client.get("/me", headers=victim).json()["counts"]["sessions"] == 1


def test_a_crashed_sync_job_is_taken_over_and_fixes_the_points(
    client: TestClient, issuer: Issuer, database_url: str
) -> None:
    """A job held by a worker that died (claimed long ago) is worked by a live one."""
    anonymous = sign_up(client)
    memo = add_document(client, anonymous, "Lighthouse keepers log the fog.")
    claimed = client.get("/me", headers=claiming(issuer, "ivan", anonymous)).json()
    wait_until(lambda: point_owners(client, memo) == {claimed["user_id"]}, "points moved")
    # Undo the sync in the vector store, then leave a job as a crashed worker would.
    vectors: VectorStore = client.app_state["vectors"]
    points = client.portal.call(vectors.document_points, uuid.UUID(memo))  # type: ignore[union-attr]
    stored = client.portal.call(vectors.stored_vectors, list(points))  # type: ignore[union-attr]
    stale = [
        ChunkPoint(
            point_id=point,
            sparse=stored[point][0],
            dense=stored[point][1],
            payload=payload | {"owner": "someone-else"},
        )
        for point, payload in points.items()
    ]
    client.portal.call(vectors.upsert, stale)  # type: ignore[union-attr]
    with psycopg.connect(database_url) as conn:
        conn.execute(
            "INSERT INTO document_owner_syncs (document_id, claimed_at, claimed_by, attempts)"
            " VALUES (%s, now() - interval '1 hour', 'crashed-worker', 1)",
            (uuid.UUID(memo),),
        )
    wait_until(lambda: point_owners(client, memo) == {claimed["user_id"]}, "the job taken over")
    wait_until(lambda: not rows(database_url, "SELECT 1 FROM document_owner_syncs"), "job done")


def test_two_concurrent_claims_of_one_anonymous_user_leave_exactly_one_owner(
    database_url: str, issuer: Issuer
) -> None:
    app = create_app(jwt_settings(database_url, issuer))
    with serve(app) as url:

        async def race(round_number: int) -> None:
            async with httpx.AsyncClient(base_url=url, timeout=30) as http:
                started = await http.post("/chat", json={"message": f"round {round_number}"})
                token = started.json()["token"]
                await http.post(
                    "/chat",
                    json={"message": "more", "session_id": started.json()["session_id"]},
                    headers={"Authorization": f"Bearer {token}"},
                )
                http.cookies.clear()
                claimants = [
                    bearer(issuer.token("rsa-1", subject=f"racer-{round_number}-{side}"))
                    for side in ("a", "b")
                ]
                responses = await asyncio.gather(
                    *(
                        http.get("/me", headers=headers | {"X-Anonymous-Token": token})
                        for headers in claimants
                    )
                )
                assert [r.status_code for r in responses] == [200, 200], [r.text for r in responses]
                counts = sorted(
                    (r.json()["counts"]["sessions"], r.json()["counts"]["messages"])
                    for r in responses
                )
                assert counts == [(0, 0), (1, 4)], counts
                gone = await http.get("/sessions", headers={"Authorization": f"Bearer {token}"})
                assert gone.status_code == 401

        for round_number in range(5):
            asyncio.run(race(round_number))
    audit = rows(database_url, "SELECT count(*) FROM audit_log WHERE action = 'history.claimed'")
    assert audit == [(5,)]


def test_erasing_a_signed_in_user_erases_the_audit_details_of_the_history_it_claimed(
    client: TestClient, issuer: Issuer, database_url: str
) -> None:
    anonymous = sign_up(client)
    anonymous_id = client.get("/me", headers=anonymous).json()["user_id"]
    # What an anonymous user's audit rows may say (a failed document names its source).
    with psycopg.connect(database_url) as conn:
        conn.execute(
            "INSERT INTO audit_log (actor_user_id, action, target_type, target_id, details)"
            " VALUES (%s, 'document.failed', 'document', %s, %s)",
            (anonymous_id, str(uuid.uuid4()), '{"error": "https://private.example/zebra"}'),
        )
    claimed = client.get("/me", headers=claiming(issuer, "carol", anonymous))
    assert claimed.status_code == 200, claimed.text
    bystander = sign_up(client)
    bystander_id = client.get("/me", headers=bystander).json()["user_id"]
    with psycopg.connect(database_url) as conn:
        conn.execute(
            "INSERT INTO audit_log (actor_user_id, action, target_type, target_id, details)"
            " VALUES (%s, 'document.failed', 'document', %s, %s)",
            (bystander_id, str(uuid.uuid4()), '{"error": "https://bystander.example/heron"}'),
        )

    erased = client.delete("/me", headers=bearer(issuer.token("rsa-1", subject="carol")))
    assert erased.status_code in (202, 204), erased.text

    details = [row[0] for row in rows(database_url, "SELECT details::text FROM audit_log")]
    assert not [text for text in details if "private.example" in text]
    assert [text for text in details if "bystander.example" in text]
    # The fact stays: the anonymous user's row, its details erased.
    kept = rows(
        database_url,
        "SELECT details FROM audit_log WHERE actor_user_id = %s AND action = 'document.failed'",
        uuid.UUID(anonymous_id),
    )
    assert kept == [({"erased": True},)]


def test_sign_in_claim_export_and_erasure_leave_a_second_user_untouched(
    client: TestClient, issuer: Issuer, database_url: str
) -> None:
    """Issue 16's whole story: a token from the issuer signs Erin in, /me shows her claims, her
    anonymous history is claimed, the export returns it, DELETE /me removes all of it."""
    anonymous = sign_up(client)
    asked = client.post("/chat", json={"message": "where do herons nest?"}, headers=anonymous)
    assert asked.status_code == 200, asked.text
    bystander = sign_up(client)
    add_document(client, bystander, "Bystander notes about otters.")
    bystander_before = snapshot(client, bystander)
    before = snapshot(client, anonymous)

    erin = bearer(
        issuer.token("rsa-1", subject="erin", email="erin@example.com", name="Erin Example")
    )
    claimed = client.get("/me", headers=erin | {"X-Anonymous-Token": anonymous_token(anonymous)})
    assert claimed.status_code == 200, claimed.text
    me = claimed.json()
    assert me["anonymous"] is False
    assert (me["email"], me["name"]) == ("erin@example.com", "Erin Example")
    assert [(i["subject"], i["email"]) for i in me["identities"]] == [("erin", "erin@example.com")]
    assert me["counts"] == before["me"]["counts"]

    exported = client.get("/me/export", headers=erin)
    assert exported.status_code == 200, exported.text
    body = exported.json()
    assert body["user"]["id"] == me["user_id"]
    assert sorted(s["id"] for s in body["sessions"]) == sorted(s["id"] for s in before["sessions"])
    contents = [m["content"] for s in body["sessions"] for m in s["messages"]]
    assert "where do herons nest?" in contents
    assert "otters" not in exported.text

    erased = client.delete("/me", headers=erin)
    assert erased.status_code in (202, 204), erased.text
    session_ids = [uuid.UUID(s["id"]) for s in before["sessions"]]
    for table, column in (("chat_sessions", "id"), ("chat_messages", "session_id")):
        assert (
            rows(database_url, f"SELECT 1 FROM {table} WHERE {column} = ANY(%s)", session_ids) == []
        )
    user = uuid.UUID(me["user_id"])
    assert rows(database_url, "SELECT 1 FROM users WHERE id = %s", user) == []
    assert rows(database_url, "SELECT 1 FROM user_identities WHERE subject = 'erin'") == []
    # Signing in again makes a new, empty user: nothing of the old one is readable.
    again = client.get("/me", headers=erin).json()
    assert again["user_id"] != me["user_id"]
    assert again["counts"] == {"sessions": 0, "messages": 0, "documents": 0}
    assert client.get("/sessions", headers=erin).json()["sessions"] == []

    assert snapshot(client, bystander) == bystander_before
