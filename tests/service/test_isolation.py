"""Users never see or touch each other's data: another user's id is a 404 with nothing of it
in the answer (on /chat, the caller's own key for a session of theirs), lists hold only the
caller's rows, and data endpoints need a credential."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from starlette.testclient import TestClient

from service.app import create_app
from tests.conftest import Cluster
from tests.service.conftest import app_settings, sign_up


@dataclass(frozen=True)
class User:
    headers: dict[str, str]
    session_id: str
    document_id: str
    answer_id: str  # the second answer, which the user rated
    secrets: tuple[str, ...]  # text only this user wrote: must never reach anyone else


@dataclass(frozen=True)
class World:
    a: User
    b: User


def _user(client: TestClient, name: str) -> User:
    headers = sign_up(client)
    question = f"{name} private question about account {name}-4711"
    first = client.post(
        "/chat", json={"message": question, "client_message_id": f"{name}-1"}, headers=headers
    )
    assert first.status_code == 200, first.text
    session_id: str = first.json()["session_id"]
    follow_up = f"{name} follow-up with secret {name}-0815"
    second = client.post(
        "/chat", json={"message": follow_up, "session_id": session_id}, headers=headers
    )
    assert second.status_code == 200, second.text
    answer_id = second.json()["assistant_message_id"]
    rating = {"rating": "up", "comment": f"{name} rating note {name}-1999"}
    rated = client.put(f"/messages/{answer_id}/feedback", json=rating, headers=headers)
    assert rated.status_code == 200, rated.text
    document_text = f"{name} confidential memo {name}-2024\nbody of the memo"
    document = client.post("/documents", json={"text": document_text}, headers=headers)
    assert document.status_code == 202, document.text
    return User(
        headers=headers,
        session_id=session_id,
        document_id=document.json()["id"],
        answer_id=answer_id,
        secrets=(
            question,
            follow_up,
            f"{name}-4711",
            f"{name}-0815",
            f"{name}-2024",
            f"{name}-1999",
        ),
    )


def build_world(client: TestClient) -> World:
    """Two users, each with a session of two turns, the second answer rated, and a document."""
    return World(a=_user(client, "alice"), b=_user(client, "bob"))


@pytest.fixture(scope="module")
def refused(pg_cluster: Cluster) -> Iterator[tuple[TestClient, World]]:
    """One app and one world for the module's refused requests.

    Each of those tests checks that its request changed nothing, so they share one world
    instead of building their own (as test_bad_input.py shares one app).
    """
    with (
        pg_cluster.clone() as database_url,
        TestClient(create_app(app_settings(database_url)), raise_server_exceptions=False) as client,
    ):
        yield client, build_world(client)


def snapshot(client: TestClient, user: User) -> dict[str, Any]:
    """What the user can read of their own data (fails when they no longer can)."""
    session = client.get(f"/sessions/{user.session_id}", headers=user.headers)
    messages = client.get(
        f"/sessions/{user.session_id}/messages", headers=user.headers, params={"limit": 100}
    )
    document = client.get(f"/documents/{user.document_id}", headers=user.headers)
    sessions = client.get("/sessions", headers=user.headers, params={"limit": 100})
    documents = client.get("/documents", headers=user.headers, params={"limit": 100})
    rated = client.get("/feedback/export", headers=user.headers)
    for response in (session, messages, document, sessions, documents, rated):
        assert response.status_code == 200, response.text
    return {
        "session": {k: session.json()[k] for k in ("id", "title", "metadata", "message_count")},
        "messages": [
            {k: m[k] for k in ("id", "seq", "role", "status", "content", "client_message_id")}
            for m in messages.json()["messages"]
        ],
        "document": {k: document.json()[k] for k in ("id", "title", "checksum", "byte_size")},
        "sessions": sorted(s["id"] for s in sessions.json()["sessions"]),
        "documents": sorted(d["id"] for d in documents.json()["documents"]),
        "rated": rated.text,
    }


def _fill(value: Any, user: User) -> Any:
    """The request template with {session}, {document} and {message} set to the user's ids."""
    if isinstance(value, str):
        return value.format(
            session=user.session_id, document=user.document_id, message=user.answer_id
        )
    if isinstance(value, dict):
        return {key: _fill(item, user) for key, item in value.items()}
    return value


def _send(
    client: TestClient,
    method: str,
    path: str,
    body: dict[str, Any] | None,
    target: User,
    headers: dict[str, str],
) -> Any:
    return client.request(
        method,
        _fill(path, target),
        json=None if body is None else _fill(body, target),
        headers=headers,
    )


def _assert_error(response: Any, status: int, code: str, secrets: tuple[str, ...]) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error"}
    assert body["error"]["code"] == code
    assert isinstance(body["error"]["message"], str)
    assert body["error"]["message"]
    for secret in secrets:
        assert secret not in response.text


# Every request that names a session or document by id.
BY_ID: list[tuple[str, str, dict[str, Any] | None]] = [
    ("GET", "/sessions/{session}", None),
    ("PATCH", "/sessions/{session}", {"title": "taken over"}),
    ("PATCH", "/sessions/{session}", {"metadata": {"owner": "someone else"}}),
    ("DELETE", "/sessions/{session}", None),
    ("GET", "/sessions/{session}/messages", None),
    ("GET", "/history/{session}", None),
    ("GET", "/search?q=secret&session_id={session}", None),
    ("GET", "/documents/{document}", None),
    ("DELETE", "/documents/{document}", None),
    ("PUT", "/messages/{message}/feedback", {"rating": "down", "comment": "not mine"}),
    ("DELETE", "/messages/{message}/feedback", None),
]

# /chat naming another user's session by its id: to the caller, a key of their own.
CHAT_BY_ID: list[tuple[str, str, dict[str, Any] | None]] = [
    ("POST", "/chat", {"message": "peek", "session_id": "{session}"}),
    ("POST", "/chat", {"query": "peek", "session_id": "{session}"}),
    ("POST", "/chat", {"message": "peek", "session_id": "{session}", "client_message_id": "x-9"}),
    # The client_message_id the owner used: a retry must not replay the owner's turn.
    ("POST", "/chat", {"message": "peek", "session_id": "{session}", "client_message_id": "bob-1"}),
    ("POST", "/chat", {"message": "peek", "session_id": "{session}", "stream": True}),
]

# Every data endpoint: the ones by id, and the collections.
ALL_DATA: list[tuple[str, str, dict[str, Any] | None]] = [
    *BY_ID,
    *CHAT_BY_ID,
    ("GET", "/sessions", None),
    ("GET", "/sessions?q=secret", None),
    ("GET", "/search?q=secret", None),
    ("POST", "/sessions", {"title": "anonymous"}),
    ("GET", "/documents", None),
    ("POST", "/documents", {"text": "anonymous text"}),
    ("GET", "/feedback/export", None),
    ("POST", "/auth/logout", None),
]


def _case_id(case: tuple[str, str, dict[str, Any] | None]) -> str:
    method, path, body = case
    fields = [] if body is None else sorted(body)
    named = [f"{k}={body[k]}" if k == "client_message_id" and body else k for k in fields]
    extra = "".join(f"-{field}" for field in named)
    return f"{method} {path}{extra}"


@pytest.mark.parametrize(("method", "path", "body"), BY_ID, ids=[_case_id(c) for c in BY_ID])
def test_another_users_id_is_not_found_and_changes_nothing(
    refused: tuple[TestClient, World], method: str, path: str, body: dict[str, Any] | None
) -> None:
    client, world = refused
    before = {"a": snapshot(client, world.a), "b": snapshot(client, world.b)}

    response = _send(client, method, path, body, world.b, world.a.headers)

    _assert_error(response, 404, "not_found", world.b.secrets)
    assert {"a": snapshot(client, world.a), "b": snapshot(client, world.b)} == before


@pytest.mark.parametrize(
    ("method", "path", "body"), CHAT_BY_ID, ids=[_case_id(c) for c in CHAT_BY_ID]
)
def test_another_users_session_id_on_chat_is_a_key_of_the_callers_own(
    refused: tuple[TestClient, World], method: str, path: str, body: dict[str, Any] | None
) -> None:
    """Any string that is not one of the caller's session ids names a session by the caller's
    own key (older clients choose their session ids): the turn goes into a session of the
    caller's, and the other user's session is untouched and unseen."""
    client, world = refused
    before = snapshot(client, world.b)

    response = _send(client, method, path, body, world.b, world.a.headers)

    assert response.status_code == 200, response.text
    for secret in world.b.secrets:
        assert secret not in response.text
    assert snapshot(client, world.b) == before
    history = client.get(f"/history/{world.b.session_id}", headers=world.a.headers)
    assert history.status_code == 200, history.text
    assert history.json()["session_id"] == world.b.session_id  # as the caller named it
    contents = [m["content"] for m in history.json()["messages"] if m["role"] == "user"]
    assert set(contents) == {"peek"}
    sessions = client.get("/sessions", headers=world.a.headers, params={"limit": 100})
    keyed = {m["session_id"] for m in history.json()["messages"]}
    assert keyed <= {s["id"] for s in sessions.json()["sessions"]}


@pytest.mark.parametrize(("method", "path", "body"), ALL_DATA, ids=[_case_id(c) for c in ALL_DATA])
def test_data_endpoints_without_a_credential_are_unauthorized(
    refused: tuple[TestClient, World], method: str, path: str, body: dict[str, Any] | None
) -> None:
    client, world = refused
    before = snapshot(client, world.b)

    response = _send(client, method, path, body, world.b, {})

    _assert_error(response, 401, "unauthorized", world.b.secrets)
    assert response.headers["www-authenticate"].lower().startswith("bearer")
    assert "set-cookie" not in response.headers
    assert snapshot(client, world.b) == before


@pytest.mark.parametrize(
    "authorization",
    ["Bearer not a token", "Bearer " + "A" * 43, "Basic Ym9iOnNlY3JldA==", "Bearer "],
    ids=["garbage", "unknown", "wrong-scheme", "empty"],
)
def test_data_endpoints_with_an_invalid_credential_are_unauthorized(
    refused: tuple[TestClient, World], authorization: str
) -> None:
    client, world = refused
    before = snapshot(client, world.b)

    for method, path, body in ALL_DATA:
        response = _send(client, method, path, body, world.b, {"Authorization": authorization})
        _assert_error(response, 401, "unauthorized", world.b.secrets)
        assert "set-cookie" not in response.headers, (method, path)

    assert snapshot(client, world.b) == before


def test_chat_without_credentials_and_without_a_session_starts_a_new_anonymous_user(
    client: TestClient,
) -> None:
    world = build_world(client)

    response = client.post("/chat", json={"message": "who else is here?"})

    assert response.status_code == 200, response.text
    client.cookies.clear()
    stranger = {"Authorization": f"Bearer {response.json()['token']}"}
    assert response.json()["session_id"] not in (world.a.session_id, world.b.session_id)
    sessions = client.get("/sessions", headers=stranger).json()["sessions"]
    assert [s["id"] for s in sessions] == [response.json()["session_id"]]
    assert client.get("/documents", headers=stranger).json()["documents"] == []


def test_lists_hold_only_the_callers_own_sessions_and_documents(client: TestClient) -> None:
    world = build_world(client)

    for me, other in ((world.a, world.b), (world.b, world.a)):
        sessions = client.get("/sessions", headers=me.headers, params={"limit": 100})
        documents = client.get("/documents", headers=me.headers, params={"limit": 100})
        shared = client.get("/documents", headers=me.headers, params={"scope": "shared"})

        session_ids = {s["id"] for s in sessions.json()["sessions"]}
        assert me.session_id in session_ids
        assert other.session_id not in session_ids
        assert [d["id"] for d in documents.json()["documents"]] == [me.document_id]
        assert shared.json()["documents"] == []
        for response in (sessions, documents, shared):
            assert response.status_code == 200, response.text
            for secret in other.secrets:
                assert secret not in response.text


def test_the_feedback_export_holds_only_the_callers_own_rated_answers(client: TestClient) -> None:
    world = build_world(client)

    for me, other in ((world.a, world.b), (world.b, world.a)):
        response = client.get("/feedback/export", headers=me.headers)

        assert response.status_code == 200, response.text
        (line,) = response.text.splitlines()
        assert me.answer_id in line  # the one answer this user rated
        for secret in other.secrets:
            assert secret not in response.text


def test_another_users_client_message_id_without_a_session_is_a_new_turn_of_the_caller(
    client: TestClient,
) -> None:
    world = build_world(client)
    before = snapshot(client, world.b)

    response = client.post(
        "/chat", json={"message": "mine", "client_message_id": "bob-1"}, headers=world.a.headers
    )

    assert response.status_code == 200, response.text
    assert response.json().get("replayed", False) is False
    assert response.json()["session_id"] != world.b.session_id
    for secret in world.b.secrets:
        assert secret not in response.text
    history = client.get(f"/history/{response.json()['session_id']}", headers=world.a.headers)
    assert [m["content"] for m in history.json()["messages"]] == [
        "mine",
        response.json()["answer"],
    ]
    assert snapshot(client, world.b) == before


def test_the_same_document_text_from_another_user_is_their_own_document(
    client: TestClient,
) -> None:
    world = build_world(client)
    before = snapshot(client, world.b)
    text = "bob confidential memo bob-2024\nbody of the memo"

    response = client.post("/documents", json={"text": text}, headers=world.a.headers)

    assert response.status_code == 202, response.text
    assert response.json()["id"] != world.b.document_id
    assert response.json()["shared"] is False
    assert snapshot(client, world.b) == before
    own = client.get("/documents", headers=world.a.headers).json()["documents"]
    assert {d["id"] for d in own} == {world.a.document_id, response.json()["id"]}


def test_search_finds_only_the_callers_own_messages(client: TestClient) -> None:
    """Both users wrote "private", "secret" and "account": each finds their own words only."""
    world = build_world(client)

    for me, other in ((world.a, world.b), (world.b, world.a)):
        for q in ("secret", "private account", '"follow-up with secret"', other.secrets[2]):
            found = client.get("/search", params={"q": q, "limit": 100}, headers=me.headers)
            sessions = client.get("/sessions", params={"q": q}, headers=me.headers)
            for response in (found, sessions):
                assert response.status_code == 200, response.text
                for secret in other.secrets:
                    assert secret not in response.text
            assert {r["session_id"] for r in found.json()["results"]} <= {me.session_id}
            assert {s["id"] for s in sessions.json()["sessions"]} <= {me.session_id}
        mine = client.get("/search", params={"q": "secret"}, headers=me.headers).json()
        assert mine["results"], "the caller's own matching messages are found"
