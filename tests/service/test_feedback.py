"""Feedback on answers over HTTP: rate, replace, delete, audited; the export as JSON Lines with
the question, the answer, the cited passages and the rating, page after page."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from typing import Any

import msgspec
import psycopg
import pytest
from starlette.testclient import TestClient

from service import store
from service.app import create_app
from service.settings import Settings
from tests.rag.conftest import wait_for_document
from tests.service.conftest import app_settings, sign_up

Headers = dict[str, str]
JSON_LINES = "application/x-ndjson"
LIGHTHOUSE = "The Brightwater lighthouse foghorn sounds twice a minute whenever fog rolls in."


def _json(response: Any, status: int) -> Any:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    return response.json()


def _assert_error(response: Any, status: int, code: str) -> dict[str, Any]:
    body = _json(response, status)
    assert set(body) == {"error"}
    assert body["error"]["code"] == code
    assert body["error"]["message"]
    error: dict[str, Any] = body["error"]
    return error


def _answer(client: TestClient, auth: Headers, message: str, **body: Any) -> dict[str, Any]:
    """A chat turn: its response (the answer's id is assistant_message_id)."""
    turn: dict[str, Any] = _json(
        client.post("/chat", json={"message": message, **body}, headers=auth), 200
    )
    return turn


def _rate(client: TestClient, auth: Headers, message_id: str, **body: Any) -> Any:
    return client.put(f"/messages/{message_id}/feedback", json=body, headers=auth)


def _export(client: TestClient, auth: Headers) -> list[dict[str, Any]]:
    response = client.get("/feedback/export", headers=auth)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == JSON_LINES
    assert response.headers["cache-control"] == "no-store"
    assert response.text == "" or response.text.endswith("\n")
    return [msgspec.json.decode(line) for line in response.text.splitlines()]


def _audit(postgresql: psycopg.Connection[Any], message_id: str) -> list[tuple[Any, ...]]:
    """(action, actor, details, request_id) of the audit entries about a message, in order."""
    return postgresql.execute(
        "SELECT action, actor_user_id::text, details, request_id FROM audit_log"
        " WHERE target_type = 'chat_message' AND target_id = %s ORDER BY id",
        (message_id,),
    ).fetchall()


def _owner(postgresql: psycopg.Connection[Any], session_id: str) -> str:
    """The id of the session's user (the API does not show a user's id)."""
    row = postgresql.execute(
        "SELECT user_id::text FROM chat_sessions WHERE id = %s", (session_id,)
    ).fetchone()
    assert row is not None
    owner: str = row[0]
    return owner


# --- rating -------------------------------------------------------------------------------


def test_an_answer_is_rated_then_rerated_replacing_rating_and_comment_audited_each_time(
    client: TestClient, postgresql: psycopg.Connection[Any]
) -> None:
    auth = sign_up(client)
    turn = _answer(client, auth, "what is keyset pagination?")
    answer_id = turn["assistant_message_id"]

    first = _json(
        _rate(client, auth, answer_id, rating="up", comment="clear and short"),
        200,
    )
    assert set(first) == {"message_id", "rating", "comment", "created_at", "updated_at"}
    assert (first["message_id"], first["rating"], first["comment"]) == (
        answer_id,
        "up",
        "clear and short",
    )

    second = _json(
        client.put(
            f"/messages/{answer_id}/feedback",
            json={"rating": "down"},
            headers={**auth, "X-Request-ID": "rerate-1"},
        ),
        200,
    )
    # PUT replaces: the comment not sent is gone; the rating keeps when it was first made.
    assert (second["rating"], second["comment"]) == ("down", None)
    assert second["created_at"] == first["created_at"]
    assert second["updated_at"] >= first["updated_at"]
    (exported,) = _export(client, auth)
    assert (exported["message_id"], exported["rating"], exported["comment"]) == (
        answer_id,
        "down",
        None,
    )

    owner = _owner(postgresql, turn["session_id"])
    entries = _audit(postgresql, answer_id)
    assert [entry[:3] for entry in entries] == [
        ("feedback.set", owner, {"rating": "up", "previous_rating": None}),
        ("feedback.set", owner, {"rating": "down", "previous_rating": "up"}),
    ]
    assert entries[1][3] == "rerate-1"
    # What the user wrote is feedback, not an audit fact.
    assert "clear and short" not in repr(entries)


def test_a_blank_comment_is_no_comment_and_a_comment_of_the_most_characters_is_kept(
    client: TestClient,
) -> None:
    auth = sign_up(client)
    answer_id = _answer(client, auth, "hello again")["assistant_message_id"]

    assert _json(_rate(client, auth, answer_id, rating="up", comment=""), 200)["comment"] is None
    assert _json(_rate(client, auth, answer_id, rating="up", comment=" \n"), 200)["comment"] is None
    longest = "é" * 2000
    assert _json(_rate(client, auth, answer_id, rating="up", comment=longest), 200)["comment"] == (
        longest
    )


def test_a_rating_is_deleted_audited_and_then_there_is_none_to_delete(
    client: TestClient, postgresql: psycopg.Connection[Any]
) -> None:
    auth = sign_up(client)
    turn = _answer(client, auth, "what is a cursor?")
    answer_id = turn["assistant_message_id"]
    _json(_rate(client, auth, answer_id, rating="down", comment="wrong"), 200)

    deleted = client.delete(f"/messages/{answer_id}/feedback", headers=auth)

    assert deleted.status_code == 204, deleted.text
    assert deleted.content == b""
    assert _export(client, auth) == []
    again = client.delete(f"/messages/{answer_id}/feedback", headers=auth)
    _assert_error(again, 404, "not_found")
    owner = _owner(postgresql, turn["session_id"])
    assert [entry[:3] for entry in _audit(postgresql, answer_id)] == [
        ("feedback.set", owner, {"rating": "down", "previous_rating": None}),
        ("feedback.deleted", owner, {"rating": "down"}),
    ]
    # Rated again after the deletion: a new rating.
    assert _json(_rate(client, auth, answer_id, rating="up"), 200)["rating"] == "up"


def test_another_users_answer_and_an_unknown_message_are_not_found(
    client: TestClient, postgresql: psycopg.Connection[Any]
) -> None:
    owner = sign_up(client)
    answer_id = _answer(client, owner, "bob-7731 private question")["assistant_message_id"]
    _json(_rate(client, owner, answer_id, rating="up", comment="bob-7731 note"), 200)
    stranger = sign_up(client)
    unknown = str(uuid.uuid4())

    for message_id in (answer_id, unknown):
        for response in (
            _rate(client, stranger, message_id, rating="down"),
            client.delete(f"/messages/{message_id}/feedback", headers=stranger),
        ):
            error = _assert_error(response, 404, "not_found")
            assert "bob-7731" not in response.text
            assert error["message"] in ("message not found", "no feedback on this message")

    (exported,) = _export(client, owner)
    assert (exported["rating"], exported["comment"]) == ("up", "bob-7731 note")
    assert _export(client, stranger) == []
    assert postgresql.execute(
        "SELECT count(*) FROM audit_log WHERE action LIKE 'feedback.%'"
    ).fetchone() == (1,)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"rating": "meh"}, "rating"),
        ({"rating": "UP"}, "rating"),
        ({"rating": None}, "rating"),
        ({}, "rating"),
        ({"rating": "up", "comment": "x" * 2001}, "comment"),
        ({"rating": "up", "comment": "a\x00b"}, "comment"),
        ({"rating": "up", "comment": 5}, "comment"),
        ({"rating": "up", "stars": 5}, "stars"),
    ],
    ids=["unknown", "case", "null", "missing", "long-comment", "nul", "number", "unknown-field"],
)
def test_a_bad_rating_or_comment_is_refused_naming_the_field(
    client: TestClient, body: dict[str, Any], field: str
) -> None:
    auth = sign_up(client)
    answer_id = _answer(client, auth, "rate me badly")["assistant_message_id"]

    error = _assert_error(_rate(client, auth, answer_id, **body), 422, "invalid_request")

    assert error["details"]["location"] == "body"
    assert error["details"]["field"] == field
    assert _export(client, auth) == []


def test_a_question_is_not_rated_and_a_bad_id_is_refused(client: TestClient) -> None:
    auth = sign_up(client)
    question_id = _answer(client, auth, "what is a question?")["user_message_id"]

    error = _assert_error(_rate(client, auth, question_id, rating="up"), 422, "invalid_request")
    assert error["details"] == {"location": "path", "field": "message_id"}
    assert "only answers can be rated" in error["message"]
    error = _assert_error(_rate(client, auth, "not-a-uuid", rating="up"), 422, "invalid_request")
    assert error["details"] == {"location": "path", "field": "message_id"}
    assert _export(client, auth) == []


@pytest.mark.parametrize(
    ("status", "error", "says"),
    [("pending", None, "still being written"), ("failed", "the model was down", "failed")],
)
def test_an_answer_not_complete_is_a_conflict(
    client: TestClient,
    postgresql: psycopg.Connection[Any],
    status: str,
    error: str | None,
    says: str,
) -> None:
    auth = sign_up(client)
    answer_id = _answer(client, auth, "an answer that is not done")["assistant_message_id"]
    postgresql.execute(
        "UPDATE chat_messages SET status = %s, error = %s WHERE id = %s",
        (status, error, answer_id),
    )
    postgresql.commit()

    conflict = _assert_error(_rate(client, auth, answer_id, rating="up"), 409, "conflict")

    assert says in conflict["message"]
    assert _export(client, auth) == []


# --- the export ---------------------------------------------------------------------------


def _cited_answer(client: TestClient, auth: Headers) -> tuple[dict[str, Any], str]:
    """A turn answered from a document of the caller's: the turn and the document's id."""
    texts = [
        LIGHTHOUSE,
        "Harbour pilots board incoming ships at the outer buoy.",
        "The ferry timetable changes in winter, with fewer crossings.",
    ]
    documents = [
        _json(client.post("/documents", json={"text": t}, headers=auth), 202) for t in texts
    ]
    for document in documents:
        assert wait_for_document(client, auth, document["id"])["status"] == "completed"
    turn = _answer(client, auth, "how often does the Brightwater foghorn sound?")
    assert [source["document_id"] for source in turn["sources"]] == [documents[0]["id"]]
    return turn, documents[0]["id"]


def test_the_export_holds_the_question_the_answer_the_cited_passages_and_the_rating(
    client: TestClient, postgresql: psycopg.Connection[Any]
) -> None:
    auth = sign_up(client)
    turn, document_id = _cited_answer(client, auth)
    answer_id = turn["assistant_message_id"]
    rated = _json(_rate(client, auth, answer_id, rating="up", comment="exactly right"), 200)
    _answer(client, auth, "an answer left unrated")

    (line,) = _export(client, auth)

    assert set(line) == {
        "message_id",
        "session_id",
        "question",
        "answer",
        "citations",
        "rating",
        "comment",
        "rated_at",
    }
    assert line["message_id"] == answer_id
    assert line["session_id"] == turn["session_id"]
    assert line["question"] == "how often does the Brightwater foghorn sound?"
    assert line["answer"] == turn["answer"]
    assert (line["rating"], line["comment"]) == ("up", "exactly right")
    assert line["rated_at"] == rated["updated_at"]
    (citation,) = line["citations"]
    (source,) = turn["sources"]
    (chunk,) = postgresql.execute(
        "SELECT id::text, point_id::text, content FROM document_chunks WHERE document_id = %s",
        (document_id,),
    ).fetchall()
    assert citation == {
        "rank": 1,
        "document_id": document_id,
        "chunk_id": chunk[0],
        "point_id": chunk[1],
        "score": source["score"],
        "document_title": source["document_title"],
        "document_url": source["document_url"],
        "text": chunk[2],  # the passage itself, not the snippet shown with the answer
    }
    assert "foghorn" in citation["text"]


def test_the_export_keeps_a_cited_passage_after_its_document_is_deleted(
    client: TestClient,
) -> None:
    auth = sign_up(client)
    turn, document_id = _cited_answer(client, auth)
    _json(_rate(client, auth, turn["assistant_message_id"], rating="down"), 200)

    assert client.delete(f"/documents/{document_id}", headers=auth).status_code == 204

    (line,) = _export(client, auth)
    (citation,) = line["citations"]
    assert (citation["document_id"], citation["chunk_id"]) == (None, None)
    assert citation["text"] == turn["sources"][0]["snippet"]
    assert "foghorn" in citation["text"]


def test_a_rating_goes_with_its_message_when_the_session_is_deleted(client: TestClient) -> None:
    auth = sign_up(client)
    kept = _answer(client, auth, "a session that stays")
    gone = _answer(client, auth, "a session that goes")
    for turn in (kept, gone):
        _json(_rate(client, auth, turn["assistant_message_id"], rating="up"), 200)

    assert client.delete(f"/sessions/{gone['session_id']}", headers=auth).status_code == 204

    assert [line["message_id"] for line in _export(client, auth)] == [kept["assistant_message_id"]]
    missing = client.delete(f"/messages/{gone['assistant_message_id']}/feedback", headers=auth)
    _assert_error(missing, 404, "not_found")


@pytest.fixture
def small_pages(database_url: str) -> Iterator[TestClient]:
    """The app reading the export two answers at a time (MAX_PAGE_SIZE)."""
    settings = app_settings(database_url, max_page_size=2, default_page_size=2)
    with TestClient(create_app(settings), raise_server_exceptions=False) as test_client:
        yield test_client


def test_an_export_of_many_rated_answers_spans_pages_each_answer_once(
    small_pages: TestClient,
) -> None:
    client = small_pages
    auth = sign_up(client)
    rated: dict[str, str] = {}
    for number in range(7):
        turn = _answer(client, auth, f"question number {number}")
        rating = "up" if number % 2 else "down"
        _json(_rate(client, auth, turn["assistant_message_id"], rating=rating), 200)
        rated[turn["assistant_message_id"]] = rating
    other = sign_up(client)  # someone else's ratings are not part of it
    for number in range(3):
        turn = _answer(client, other, f"another user's question {number}")
        _json(_rate(client, other, turn["assistant_message_id"], rating="up"), 200)

    lines = _export(client, auth)

    ids = [line["message_id"] for line in lines]
    assert len(ids) == len(set(ids)) == 7  # four pages of at most two
    assert {line["message_id"]: line["rating"] for line in lines} == rated
    assert ids == sorted(ids, key=uuid.UUID)
    assert {line["question"] for line in lines} == {f"question number {n}" for n in range(7)}


def test_a_user_without_ratings_exports_nothing(client: TestClient) -> None:
    auth = sign_up(client)
    _answer(client, auth, "never rated")

    assert _export(client, auth) == []


def test_every_page_of_the_export_is_read_within_a_budget_of_its_own(
    small_pages: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first page is read within the request's budget, before the status is sent; each
    later page, read while the body streams, within DB_REQUEST_BUDGET of its own."""
    client = small_pages
    auth = sign_up(client)
    for number in range(5):
        turn = _answer(client, auth, f"question number {number}")
        _json(_rate(client, auth, turn["assistant_message_id"], rating="up"), 200)
    budget = Settings().db_request_budget  # the fixture's: the default
    left: list[float | None] = []
    read_page = store.list_rated_answers

    async def measured(*args: Any, **kwargs: Any) -> store.RatedAnswerPage:
        budget = store.deadlines.current_budget()
        left.append(None if budget is None else budget.at - asyncio.get_running_loop().time())
        return await read_page(*args, **kwargs)

    monkeypatch.setattr(store, "list_rated_answers", measured)

    assert len(_export(client, auth)) == 5

    assert len(left) == 3  # pages of two
    for seconds in left:
        assert seconds is not None
        assert 0 < seconds <= budget


def test_a_page_on_an_allowed_origin_may_rate_across_origins(database_url: str) -> None:
    """PUT is a write like the others: a browser's preflight for it is answered (CORS)."""
    origin = "https://docs.example.org"
    settings = app_settings(database_url, allowed_origins=origin)
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        preflight = client.options(
            f"/messages/{uuid.uuid4()}/feedback",
            headers={
                "Origin": origin,
                "Access-Control-Request-Method": "PUT",
                "Access-Control-Request-Headers": "content-type, authorization",
            },
        )

    assert preflight.status_code == 200, preflight.text
    assert preflight.headers["access-control-allow-origin"] == origin
    assert "PUT" in preflight.headers["access-control-allow-methods"]


def test_the_history_shows_the_callers_rating_of_each_answer(client: TestClient) -> None:
    auth = sign_up(client)
    first = _answer(client, auth, "what is a cursor?")
    second = _answer(client, auth, "what is a page?", session_id=first["session_id"])
    history = f"/sessions/{first['session_id']}/messages"

    def ratings() -> dict[str, Any]:
        """Each message's rating, as both history routes say it."""
        said = [
            {m["id"]: m["rating"] for m in _json(client.get(path, headers=auth), 200)["messages"]}
            for path in (history, f"/history/{first['session_id']}")
        ]
        assert said[0] == said[1]
        return said[0]

    assert set(ratings().values()) == {None}
    _json(_rate(client, auth, first["assistant_message_id"], rating="up"), 200)
    _json(_rate(client, auth, second["assistant_message_id"], rating="down"), 200)
    rated = ratings()
    assert rated[first["assistant_message_id"]] == "up"
    assert rated[second["assistant_message_id"]] == "down"
    assert rated[first["user_message_id"]] is None
    client.delete(f"/messages/{second['assistant_message_id']}/feedback", headers=auth)
    assert ratings()[second["assistant_message_id"]] is None
