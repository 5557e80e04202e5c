"""Sessions, their history and documents over HTTP: the happy paths, pagination, request ids."""

from __future__ import annotations

import hashlib
import re
import uuid
from typing import Any

import psycopg
import pytest
from starlette.testclient import TestClient

from tests.service.conftest import sign_up

Headers = dict[str, str]
HEX_REQUEST_ID = re.compile(r"^[0-9a-f]{32}$")


def _json(response: Any, status: int) -> Any:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    return response.json()


def _assert_error(response: Any, status: int, code: str) -> None:
    body = _json(response, status)
    assert set(body) == {"error"}
    assert body["error"]["code"] == code
    assert isinstance(body["error"]["message"], str)
    assert body["error"]["message"]


def _create_session(client: TestClient, auth: Headers, **body: Any) -> dict[str, Any]:
    created: dict[str, Any] = _json(client.post("/sessions", json=body, headers=auth), 201)
    return created


def _chat(client: TestClient, auth: Headers, session_id: str, message: str) -> dict[str, Any]:
    body = {"message": message, "session_id": session_id}
    answer: dict[str, Any] = _json(client.post("/chat", json=body, headers=auth), 200)
    assert answer["saved"] is True
    assert answer["session_id"] == session_id
    return answer


def _walk(
    client: TestClient, auth: Headers, path: str, key: str, cursor_param: str, **params: Any
) -> list[list[dict[str, Any]]]:
    """Every page of a listing, following next_cursor until it is None."""
    pages: list[list[dict[str, Any]]] = []
    cursor: str | None = None
    while True:
        query = dict(params) | ({} if cursor is None else {cursor_param: cursor})
        page = _json(client.get(path, params=query, headers=auth), 200)
        pages.append(page[key])
        cursor = page["next_cursor"]
        if cursor is None:
            return pages
        assert isinstance(cursor, str)
        assert cursor
        assert len(pages) < 50, "the cursor does not advance"


def _user_with_no_sessions(client: TestClient) -> Headers:
    """A new user (sign-up chats once, which starts a session) with that session deleted."""
    auth = sign_up(client)
    for session in _json(client.get("/sessions", headers=auth), 200)["sessions"]:
        assert client.delete(f"/sessions/{session['id']}", headers=auth).status_code == 204
    assert _json(client.get("/sessions", headers=auth), 200) == {
        "sessions": [],
        "next_cursor": None,
    }
    return auth


# --- sessions ---------------------------------------------------------------------------------


def test_a_session_is_created_read_renamed_given_metadata_and_deleted_with_its_messages(
    client: TestClient, postgresql: psycopg.Connection[Any]
) -> None:
    auth = sign_up(client)
    metadata = {"lang": "en", "tags": ["travel", "2026"], "nested": {"n": 1, "ok": True}}

    created = _create_session(client, auth, title="Trip planning", metadata=metadata)
    assert uuid.UUID(created["id"])
    assert created["title"] == "Trip planning"
    assert created["metadata"] == metadata
    assert created["message_count"] == 0
    assert created["created_at"] <= created["updated_at"]
    assert _json(client.get(f"/sessions/{created['id']}", headers=auth), 200) == created

    renamed = _json(
        client.patch(f"/sessions/{created['id']}", json={"title": "Trip"}, headers=auth), 200
    )
    assert renamed["title"] == "Trip"
    assert renamed["metadata"] == metadata  # untouched
    replaced = _json(
        client.patch(f"/sessions/{created['id']}", json={"metadata": {"only": 1}}, headers=auth),
        200,
    )
    assert replaced["metadata"] == {"only": 1}  # the whole object is replaced
    assert replaced["title"] == "Trip"  # untouched
    both = _json(
        client.patch(
            f"/sessions/{created['id']}", json={"title": "T", "metadata": {}}, headers=auth
        ),
        200,
    )
    assert (both["title"], both["metadata"]) == ("T", {})
    assert _json(client.get(f"/sessions/{created['id']}", headers=auth), 200) == both

    _chat(client, auth, created["id"], "first question")
    assert _json(client.get(f"/sessions/{created['id']}", headers=auth), 200)["message_count"] == 2

    deleted = client.delete(f"/sessions/{created['id']}", headers=auth)
    assert deleted.status_code == 204
    assert deleted.content == b""
    _assert_error(client.get(f"/sessions/{created['id']}", headers=auth), 404, "not_found")
    _assert_error(client.get(f"/sessions/{created['id']}/messages", headers=auth), 404, "not_found")
    _assert_error(client.delete(f"/sessions/{created['id']}", headers=auth), 404, "not_found")
    left = postgresql.execute(
        "SELECT count(*) FROM chat_messages WHERE session_id = %s", (created["id"],)
    ).fetchone()
    assert left == (0,)


def test_a_session_can_start_without_title_or_metadata(client: TestClient) -> None:
    auth = sign_up(client)
    created = _create_session(client, auth)
    assert created["title"] is None
    assert created["metadata"] == {}
    assert created["message_count"] == 0


def test_sessions_are_listed_most_recently_active_first_in_keyset_pages(
    client: TestClient,
) -> None:
    auth = _user_with_no_sessions(client)
    created = [_create_session(client, auth, title=f"s{index}")["id"] for index in range(5)]

    pages = _walk(client, auth, "/sessions", "sessions", "cursor", limit=2)
    assert [len(page) for page in pages] == [2, 2, 1]
    listed = [session["id"] for page in pages for session in page]
    assert listed == created[::-1]  # newest activity first, no duplicates, no gaps
    activity = [session["last_activity_at"] for page in pages for session in page]
    assert activity == sorted(activity, reverse=True)

    # A new message in the oldest session makes it the most recently active.
    _chat(client, auth, created[0], "back to the first one")
    first_page = _json(client.get("/sessions", params={"limit": 2}, headers=auth), 200)
    assert [session["id"] for session in first_page["sessions"]] == [created[0], created[4]]
    pages = _walk(client, auth, "/sessions", "sessions", "cursor", limit=2)
    listed = [session["id"] for page in pages for session in page]
    assert listed == [created[0], created[4], created[3], created[2], created[1]]
    assert pages[0][0]["message_count"] == 2


def test_a_page_as_large_as_the_remainder_ends_the_listing(client: TestClient) -> None:
    auth = _user_with_no_sessions(client)
    created = [_create_session(client, auth)["id"] for _ in range(4)]
    pages = _walk(client, auth, "/sessions", "sessions", "cursor", limit=2)
    assert [[session["id"] for session in page] for page in pages] == [
        created[:1:-1],
        created[1::-1],
    ]
    everything = _json(client.get("/sessions", headers=auth), 200)  # default page size
    assert [session["id"] for session in everything["sessions"]] == created[::-1]
    assert everything["next_cursor"] is None


@pytest.mark.parametrize("path", ["/sessions/{id}/messages", "/history/{id}"])
def test_messages_are_read_backwards_in_pages_each_oldest_first(
    client: TestClient, path: str
) -> None:
    auth = sign_up(client)
    session_id = _create_session(client, auth, title="history")["id"]
    for turn in range(5):  # a question and its answer each: ten messages
        _chat(client, auth, session_id, f"question {turn}")

    pages = _walk(client, auth, path.format(id=session_id), "messages", "before", limit=3)
    seqs = [[message["seq"] for message in page] for page in pages]
    assert seqs == [[8, 9, 10], [5, 6, 7], [2, 3, 4], [1]]
    messages = [message for page in reversed(pages) for message in page]
    assert [message["seq"] for message in messages] == list(range(1, 11))
    assert {message["session_id"] for message in messages} == {session_id}
    assert [message["role"] for message in messages] == ["user", "assistant"] * 5
    assert [message["content"] for message in messages[::2]] == [
        f"question {turn}" for turn in range(5)
    ]
    for question, answer in zip(messages[::2], messages[1::2], strict=True):
        assert answer["reply_to_id"] == question["id"]
        assert answer["status"] == "complete"
        assert answer["content"]

    last = _json(client.get(path.format(id=session_id), params={"limit": 3}, headers=auth), 200)
    assert last["session_id"] == session_id
    assert [message["seq"] for message in last["messages"]] == [8, 9, 10]


def test_an_empty_session_has_an_empty_history(client: TestClient) -> None:
    auth = sign_up(client)
    session_id = _create_session(client, auth)["id"]
    page = _json(client.get(f"/sessions/{session_id}/messages", headers=auth), 200)
    assert page == {"session_id": session_id, "messages": [], "next_cursor": None}


# --- documents --------------------------------------------------------------------------------

# What a document record keeps while the ingestion worker moves it along (status, chunk_count,
# attempts, updated_at... change in the background).
RECORD = (
    "id",
    "shared",
    "title",
    "source_url",
    "filename",
    "content_type",
    "checksum",
    "byte_size",
    "metadata",
    "created_at",
)


def _record(document: dict[str, Any]) -> dict[str, Any]:
    return {key: document[key] for key in RECORD}


def _post_document(client: TestClient, auth: Headers, status: int, **kwargs: Any) -> Any:
    response = client.post("/documents", headers=auth, **kwargs)
    document = _json(response, status)
    assert response.headers["location"] == f"/documents/{document['id']}"
    return document


def test_a_text_document_is_recorded_pending_and_the_same_text_again_returns_it(
    client: TestClient,
) -> None:
    auth = sign_up(client)
    text = "Keyset pagination\nuses the last row of a page as the cursor. ünïcödé"
    body = {"text": text, "metadata": {"source": "notes"}}
    document = _post_document(client, auth, 202, json=body)
    content = text.encode()
    assert uuid.UUID(document["id"])
    assert document["status"] == "pending"
    assert document["checksum"] == hashlib.sha256(content).hexdigest()
    assert document["byte_size"] == len(content)
    assert document["title"] == "Keyset pagination"  # the first line, when none is given
    assert document["content_type"] == "text/plain; charset=utf-8"
    assert document["metadata"] == {"source": "notes"}
    assert document["shared"] is False
    assert document["source_url"] is None
    assert document["filename"] is None
    assert document["error"] is None
    assert document["chunk_count"] == 0

    again = _post_document(client, auth, 200, json={"text": text, "title": "another title"})
    assert _record(again) == _record(document)  # the existing record, unchanged

    titled = _post_document(client, auth, 202, json={"text": "other", "title": "Given title"})
    assert titled["title"] == "Given title"
    assert titled["id"] != document["id"]


def test_a_url_document_is_recorded_with_its_source_url(client: TestClient) -> None:
    auth = sign_up(client)
    url = "https://docs.example.invalid/guide/pagination?page=2"  # never resolves
    document = _post_document(client, auth, 202, json={"url": url, "title": "Guide"})
    assert document["source_url"] == url
    assert document["title"] == "Guide"
    assert document["status"] == "pending"
    assert document["byte_size"] is None
    assert re.fullmatch(r"[0-9a-f]{64}", document["checksum"])
    # The same URL again is the same document (answered 202 when it is queued to be fetched
    # anew, 200 while it is still being ingested).
    response = client.post("/documents", json={"url": url}, headers=auth)
    assert response.status_code in (200, 202), response.text
    assert response.json()["id"] == document["id"]
    assert [d["id"] for d in _json(client.get("/documents", headers=auth), 200)["documents"]] == [
        document["id"]
    ]


def test_a_file_uploaded_as_multipart_is_recorded_with_its_name_and_type(
    client: TestClient,
) -> None:
    auth = sign_up(client)
    content = b"# Notes\n\nsome *markdown*\n"
    document = _post_document(
        client,
        auth,
        202,
        files={"file": ("notes.md", content, "text/markdown")},
        data={"title": "My notes", "metadata": '{"kind": "notes", "n": 1}'},
    )
    assert document["filename"] == "notes.md"
    assert document["content_type"] == "text/markdown"
    assert document["title"] == "My notes"
    assert document["metadata"] == {"kind": "notes", "n": 1}
    assert document["byte_size"] == len(content)
    assert document["checksum"] == hashlib.sha256(content).hexdigest()
    assert document["status"] == "pending"

    untitled = _post_document(
        client, auth, 202, files={"file": ("dir/report.txt", b"report body", "text/plain")}
    )
    assert untitled["filename"] == "report.txt"  # no directories from the client
    assert untitled["title"] is None  # until ingestion finds one in the content


def test_documents_are_listed_newest_first_in_pages_and_only_the_callers_own(
    client: TestClient,
) -> None:
    auth = sign_up(client)
    other = sign_up(client)
    theirs = _post_document(client, other, 202, json={"text": "someone else's"})
    mine = [_post_document(client, auth, 202, json={"text": f"doc {n}"})["id"] for n in range(5)]

    pages = _walk(client, auth, "/documents", "documents", "cursor", limit=2)
    assert [len(page) for page in pages] == [2, 2, 1]
    listed = [document["id"] for page in pages for document in page]
    assert listed == mine[::-1]
    assert theirs["id"] not in listed
    created = [document["created_at"] for page in pages for document in page]
    assert created == sorted(created, reverse=True)
    own = _json(client.get("/documents", params={"scope": "own"}, headers=auth), 200)
    assert [document["id"] for document in own["documents"]] == listed
    assert [d["id"] for d in _json(client.get("/documents", headers=other), 200)["documents"]] == [
        theirs["id"]
    ]


def test_the_shared_scope_lists_only_shared_documents(
    client: TestClient, postgresql: psycopg.Connection[Any]
) -> None:
    auth = sign_up(client)
    own = _post_document(client, auth, 202, json={"text": "mine"})
    assert _json(client.get("/documents", params={"scope": "shared"}, headers=auth), 200) == {
        "documents": [],
        "next_cursor": None,
    }

    shared_id = postgresql.execute(
        "INSERT INTO documents (owner_id, title, checksum) VALUES (NULL, 'Handbook', %s)"
        " RETURNING id::text",
        (hashlib.sha256(b"handbook").digest(),),
    ).fetchone()
    postgresql.commit()
    assert shared_id is not None
    shared = _json(client.get("/documents", params={"scope": "shared"}, headers=auth), 200)
    assert [(d["id"], d["shared"], d["title"]) for d in shared["documents"]] == [
        (shared_id[0], True, "Handbook")
    ]
    own_list = _json(client.get("/documents", headers=auth), 200)["documents"]
    assert [document["id"] for document in own_list] == [own["id"]]
    # A shared document is readable by every user, but not theirs to delete.
    read = _json(client.get(f"/documents/{shared_id[0]}", headers=auth), 200)
    assert read["shared"] is True
    _assert_error(client.delete(f"/documents/{shared_id[0]}", headers=auth), 404, "not_found")
    assert _record(_json(client.get(f"/documents/{shared_id[0]}", headers=auth), 200)) == (
        _record(read)
    )


def test_a_document_is_read_and_deleted_by_its_owner_only(client: TestClient) -> None:
    auth = sign_up(client)
    other = sign_up(client)
    document = _post_document(client, auth, 202, json={"text": "to be deleted"})
    path = f"/documents/{document['id']}"
    assert _record(_json(client.get(path, headers=auth), 200)) == _record(document)
    _assert_error(client.get(path, headers=other), 404, "not_found")
    _assert_error(client.delete(path, headers=other), 404, "not_found")

    deleted = client.delete(path, headers=auth)
    assert deleted.status_code == 204
    assert deleted.content == b""
    _assert_error(client.get(path, headers=auth), 404, "not_found")
    _assert_error(client.delete(path, headers=auth), 404, "not_found")
    assert _json(client.get("/documents", headers=auth), 200)["documents"] == []
    # The same text can be added again once deleted: a new record.
    again = _post_document(client, auth, 202, json={"text": "to be deleted"})
    assert again["id"] != document["id"]


# --- request ids ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "offered",
    ["req-1", "a.b:c_D-9", "x" * 64, "5f0c2a8e-6b4f-4a57-9d0e-3f6c2a8b7e51"],
    ids=["short", "every-allowed-punctuation", "64-characters", "uuid"],
)
def test_a_sane_client_request_id_is_echoed(client: TestClient, offered: str) -> None:
    headers = {"X-Request-ID": offered}
    assert client.get("/health", headers=headers).headers["x-request-id"] == offered
    unauthorized = client.get("/sessions", headers=headers)
    assert unauthorized.status_code == 401
    assert unauthorized.headers["x-request-id"] == offered  # on error answers too


@pytest.mark.parametrize(
    "offered",
    ["", "has space", "x" * 65, "semi;colon", "slash/es", "quote'", "tab\there"],
    ids=["empty", "space", "65-characters", "semicolon", "slash", "quote", "tab"],
)
def test_an_unusable_client_request_id_is_replaced_by_a_generated_one(
    client: TestClient, offered: str
) -> None:
    generated = client.get("/health", headers={"X-Request-ID": offered}).headers["x-request-id"]
    assert generated != offered
    assert HEX_REQUEST_ID.match(generated)


def test_each_request_without_an_id_gets_a_new_generated_one(client: TestClient) -> None:
    ids = {client.get("/health").headers["x-request-id"] for _ in range(3)}
    assert len(ids) == 3
    assert all(HEX_REQUEST_ID.match(request_id) for request_id in ids)


def test_deleting_a_session_writes_an_audit_row_with_the_request_id(
    client: TestClient, postgresql: psycopg.Connection[Any]
) -> None:
    auth = sign_up(client)
    session_id = _create_session(client, auth, title="audited")["id"]
    owner = postgresql.execute(
        "SELECT user_id FROM chat_sessions WHERE id = %s", (session_id,)
    ).fetchone()
    assert owner is not None

    response = client.delete(
        f"/sessions/{session_id}", headers=auth | {"X-Request-ID": "delete-session-42"}
    )
    assert response.status_code == 204
    assert response.headers["x-request-id"] == "delete-session-42"
    rows = postgresql.execute(
        "SELECT actor_user_id, target_type, target_id, request_id FROM audit_log"
        " WHERE action = 'session.deleted'"
    ).fetchall()
    assert rows == [(owner[0], "chat_session", session_id, "delete-session-42")]

    # A delete that finds nothing is not audited.
    again = client.delete(f"/sessions/{session_id}", headers=auth | {"X-Request-ID": "again-1"})
    assert again.status_code == 404
    audited = postgresql.execute(
        "SELECT count(*) FROM audit_log WHERE action = 'session.deleted'"
    ).fetchone()
    assert audited == (1,)
