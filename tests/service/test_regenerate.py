"""POST /messages/{message_id}/regenerate: a new answer to the same question, the history with
the newest answer (or every answer, ?answers=all), idempotent retries, streaming, failures,
races, and another user's messages."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import psycopg
import pytest
from starlette.testclient import TestClient

from service.app import create_app
from service.settings import Settings
from tests.conftest import sse_events
from tests.service.conftest import app_settings, serve, sign_up
from tests.service.test_chat import FAILURE, ExplodingAnswerer
from tests.service.test_limits import assert_rate_limited, wait_for_a_fresh_window


@pytest.fixture
def failing_client(settings: Settings) -> Iterator[TestClient]:
    """The app over the same database as ``client``, with an answerer that always fails."""
    app = create_app(settings, answerer=ExplodingAnswerer())
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


def ask(client: TestClient, headers: dict[str, str], message: str, **body: Any) -> dict[str, Any]:
    response = client.post("/chat", json={"message": message, **body}, headers=headers)
    assert response.status_code == 200, response.text
    answered: dict[str, Any] = response.json()
    return answered


def regenerate(client: TestClient, headers: dict[str, str], message_id: str, **body: Any) -> Any:
    """The response to POST /messages/{message_id}/regenerate with this body."""
    return client.post(f"/messages/{message_id}/regenerate", json=body, headers=headers)


def history(
    client: TestClient, headers: dict[str, str], session_id: str, **params: Any
) -> list[dict[str, Any]]:
    response = client.get(
        f"/sessions/{session_id}/messages", params={"limit": 100, **params}, headers=headers
    )
    assert response.status_code == 200, response.text
    messages: list[dict[str, Any]] = response.json()["messages"]
    return messages


def test_a_regenerated_answer_replies_to_the_same_question_with_the_next_seq(
    client: TestClient,
) -> None:
    headers = sign_up(client)
    first = ask(client, headers, "what is a turn?")

    response = regenerate(client, headers, first["assistant_message_id"])

    assert response.status_code == 200, response.text
    again = response.json()
    assert again["session_id"] == first["session_id"]
    assert again["user_message_id"] == first["user_message_id"]
    assert again["assistant_message_id"] != first["assistant_message_id"]
    assert again["saved"] is True
    assert "replayed" not in again
    question, answer = history(client, headers, first["session_id"])
    assert (question["id"], question["seq"]) == (first["user_message_id"], 1)
    assert (answer["id"], answer["seq"]) == (again["assistant_message_id"], 3)
    assert (answer["reply_to_id"], answer["status"]) == (question["id"], "complete")
    assert answer["content"] == again["answer"]
    assert answer["superseded_at"] is None


def test_the_history_shows_the_newest_answer_and_every_answer_on_request(
    client: TestClient,
) -> None:
    headers = sign_up(client)
    first = ask(client, headers, "first question")
    second = ask(client, headers, "second question", session_id=first["session_id"])
    regenerated = regenerate(client, headers, first["assistant_message_id"]).json()

    newest = history(client, headers, first["session_id"])
    every = history(client, headers, first["session_id"], answers="all")

    assert [(m["seq"], m["id"]) for m in newest] == [
        (1, first["user_message_id"]),
        (3, second["user_message_id"]),
        (4, second["assistant_message_id"]),
        (5, regenerated["assistant_message_id"]),
    ]
    assert [m["seq"] for m in every] == [1, 2, 3, 4, 5]
    superseded = every[1]
    assert superseded["id"] == first["assistant_message_id"]
    assert superseded["superseded_at"] is not None
    assert superseded["reply_to_id"] == every[4]["reply_to_id"] == first["user_message_id"]
    assert [m["superseded_at"] is None for m in every] == [True, False, True, True, True]
    # The legacy history takes the same choice.
    legacy = client.get(
        f"/history/{first['session_id']}", params={"answers": "all"}, headers=headers
    )
    assert [m["seq"] for m in legacy.json()["messages"]] == [1, 2, 3, 4, 5]
    assert history(client, headers, first["session_id"], answers="newest") == newest


def test_an_unknown_answers_choice_is_a_422(client: TestClient) -> None:
    headers = sign_up(client)
    first = ask(client, headers, "first question")

    response = client.get(
        f"/sessions/{first['session_id']}/messages", params={"answers": "some"}, headers=headers
    )

    assert response.status_code == 422
    assert response.json()["error"]["details"]["field"] == "answers"


def test_the_same_client_message_id_returns_the_same_new_answer_and_stores_one(
    client: TestClient,
) -> None:
    headers = sign_up(client)
    first = ask(client, headers, "what is a turn?")
    body = {"client_message_id": "regen-1"}

    once = regenerate(client, headers, first["assistant_message_id"], **body)
    twice = regenerate(client, headers, first["assistant_message_id"], **body)

    assert (once.status_code, twice.status_code) == (200, 200), twice.text
    assert twice.json()["assistant_message_id"] == once.json()["assistant_message_id"]
    assert twice.json()["answer"] == once.json()["answer"]
    assert twice.json()["replayed"] is True
    assert len(history(client, headers, first["session_id"], answers="all")) == 3
    # Streamed, the retry replays the same answer too.
    streamed = regenerate(client, headers, first["assistant_message_id"], stream=True, **body)
    events = sse_events(streamed.text)
    assert events[0][1]["replayed"] is True
    assert events[-1][1]["assistant_message_id"] == once.json()["assistant_message_id"]
    assert len(history(client, headers, first["session_id"], answers="all")) == 3


def test_a_superseded_answer_is_a_409_naming_the_current_answer(client: TestClient) -> None:
    headers = sign_up(client)
    first = ask(client, headers, "what is a turn?")
    newer = regenerate(client, headers, first["assistant_message_id"]).json()

    response = regenerate(client, headers, first["assistant_message_id"])

    assert response.status_code == 409
    error = response.json()["error"]
    assert error["code"] == "answer_superseded"
    assert error["details"] == {"current_answer_id": newer["assistant_message_id"]}
    assert len(history(client, headers, first["session_id"], answers="all")) == 3


def test_an_answer_still_being_written_is_a_409(
    client: TestClient, postgresql: psycopg.Connection[Any]
) -> None:
    headers = sign_up(client)
    first = ask(client, headers, "what is a turn?")
    # As it is while another request answers it.
    postgresql.execute(
        "UPDATE chat_messages SET status = 'pending' WHERE id = %s",
        (first["assistant_message_id"],),
    )
    postgresql.commit()

    response = regenerate(client, headers, first["assistant_message_id"])

    assert response.status_code == 409
    error = response.json()["error"]
    assert error["code"] == "turn_in_progress"
    assert error["details"]["assistant_message_id"] == first["assistant_message_id"]
    assert "retry-after" in response.headers
    assert len(history(client, headers, first["session_id"], answers="all")) == 2


def test_a_question_is_a_422(client: TestClient) -> None:
    headers = sign_up(client)
    first = ask(client, headers, "what is a turn?")

    response = regenerate(client, headers, first["user_message_id"])

    assert response.status_code == 422
    error = response.json()["error"]
    assert error["details"] == {"location": "path", "field": "message_id"}
    assert "only an assistant message" in error["message"]


def test_another_users_answer_is_a_404_and_stays_as_it_was(client: TestClient) -> None:
    alice = sign_up(client)
    bob = sign_up(client)
    first = ask(client, alice, "alice's question")

    for message_id in (first["assistant_message_id"], first["user_message_id"], str(uuid.uuid4())):
        response = regenerate(client, bob, message_id, client_message_id="bob-1")
        assert response.status_code == 404, response.text
        assert response.json()["error"]["code"] == "not_found"
    assert [m["superseded_at"] for m in history(client, alice, first["session_id"])] == [None] * 2


def test_regenerate_needs_a_credential_and_a_valid_body(client: TestClient) -> None:
    headers = sign_up(client)
    first = ask(client, headers, "what is a turn?")
    path = f"/messages/{first['assistant_message_id']}/regenerate"

    assert client.post(path, json={}).status_code == 401
    for body, field in (
        ({"client_message_id": ""}, "client_message_id"),
        ({"stream": "yes"}, "stream"),
        ({"message": "hi"}, "message"),
    ):
        response = client.post(path, json=body, headers=headers)
        assert response.status_code == 422, body
        assert response.json()["error"]["details"]["field"] == field
    malformed = client.post("/messages/not-a-uuid/regenerate", json={}, headers=headers)
    assert malformed.status_code == 422
    assert malformed.json()["error"]["details"] == {"location": "path", "field": "message_id"}
    assert len(history(client, headers, first["session_id"], answers="all")) == 2


def test_a_client_message_id_used_by_a_question_of_the_session_is_a_409(
    client: TestClient,
) -> None:
    headers = sign_up(client)
    first = ask(client, headers, "what is a turn?", client_message_id="used")

    response = regenerate(client, headers, first["assistant_message_id"], client_message_id="used")

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "conflict"
    assert [m["superseded_at"] for m in history(client, headers, first["session_id"])] == [None] * 2


def test_a_streamed_regeneration_sends_start_deltas_and_done_like_chat(
    client: TestClient,
) -> None:
    headers = sign_up(client)
    first = ask(client, headers, "what is a turn?")

    response = regenerate(client, headers, first["assistant_message_id"], stream=True)

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    events = sse_events(response.text)
    names = [name for name, _ in events]
    assert (names[0], names[-1]) == ("start", "done")
    assert set(names[1:-1]) == {"delta"}
    start, done = events[0][1], events[-1][1]
    assert start == {
        "session_id": first["session_id"],
        "user_message_id": first["user_message_id"],
        "assistant_message_id": done["assistant_message_id"],
        "saved": True,
    }
    streamed = "".join(data["text"] for name, data in events if name == "delta")
    assert streamed == done["answer"]
    newest = history(client, headers, first["session_id"])[-1]
    assert (newest["id"], newest["status"], newest["content"]) == (
        done["assistant_message_id"],
        "complete",
        streamed,
    )


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
def test_a_failed_regeneration_leaves_a_failed_answer_not_an_orphan(
    client: TestClient, failing_client: TestClient, stream: bool
) -> None:
    headers = sign_up(client)
    first = ask(client, headers, "what is a turn?")

    response = regenerate(
        failing_client, headers, first["assistant_message_id"], stream=stream, client_message_id="f"
    )

    if stream:
        events = sse_events(response.text)
        assert [events[0][0], events[-1][0]] == ["start", "error"]
        error = events[-1][1]["error"]
    else:
        assert response.status_code == 502
        error = response.json()["error"]
    assert error["code"] == "answer_failed"
    assert "model exploded" not in error["message"]
    question, failed = history(client, headers, first["session_id"])
    assert (failed["status"], failed["error"], failed["reply_to_id"]) == (
        "failed",
        FAILURE,
        question["id"],
    )
    assert error["details"]["assistant_message_id"] == failed["id"]
    statuses = [m["status"] for m in history(client, headers, first["session_id"], answers="all")]
    assert "pending" not in statuses
    # Its retry returns the failure; the failed answer itself can be regenerated.
    retry = regenerate(client, headers, first["assistant_message_id"], client_message_id="f")
    assert retry.status_code == 502
    assert regenerate(client, headers, failed["id"]).status_code == 200


def test_a_regeneration_counts_as_a_chat_turn(database_url: str) -> None:
    settings = app_settings(database_url, chat_turns_per_user_per_minute=3)
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        wait_for_a_fresh_window(60)
        headers = sign_up(client)  # a new user's turn: counted per address, not per user
        answer_id = ask(client, headers, "the first turn")["assistant_message_id"]
        for _ in range(2):
            answer_id = regenerate(client, headers, answer_id).json()["assistant_message_id"]

        limited = regenerate(client, headers, answer_id)

    assert_rate_limited(limited, limit=3, window_seconds=60)


@pytest.mark.anyio
async def test_concurrent_regenerations_of_one_answer_store_one_new_answer(
    database_url: str,
) -> None:
    """Different client ids racing for one answer: one new answer, every other request a 409
    naming it; the same client id racing: the same answer for all."""
    settings = app_settings(database_url, db_pool_min_size=1, db_pool_max_size=10)
    with serve(create_app(settings)) as url:
        async with httpx.AsyncClient(base_url=url, timeout=60) as http:
            signed = await http.post("/chat", json={"message": "race"})
            http.cookies.clear()
            headers = {"Authorization": f"Bearer {signed.json()['token']}"}
            first = signed.json()
            path = f"/messages/{first['assistant_message_id']}/regenerate"

            racing = await asyncio.gather(
                *(
                    http.post(path, json={"client_message_id": f"r-{n}"}, headers=headers)
                    for n in range(6)
                )
            )
            won = [r.json() for r in racing if r.status_code == 200]
            lost = [r.json()["error"] for r in racing if r.status_code == 409]
            assert (len(won), len(lost)) == (1, 5), [r.text for r in racing]
            winner = won[0]["assistant_message_id"]
            assert {e["details"]["current_answer_id"] for e in lost} == {winner}

            path = f"/messages/{winner}/regenerate"
            same = await asyncio.gather(
                *(
                    http.post(path, json={"client_message_id": "same"}, headers=headers)
                    for _ in range(4)
                )
            )
            assert {r.status_code for r in same} <= {200, 409}, [r.text for r in same]
            ids = {r.json()["assistant_message_id"] for r in same if r.status_code == 200}
            # A retry that arrives while the first is still answering is told so (409,
            # turn_in_progress); every other gets the one new answer.
            assert len(ids) == 1
            for r in same:
                if r.status_code == 409:
                    assert r.json()["error"]["code"] == "turn_in_progress"

            every = await http.get(
                f"/sessions/{first['session_id']}/messages",
                params={"answers": "all"},
                headers=headers,
            )
    messages = every.json()["messages"]
    assert [m["seq"] for m in messages] == [1, 2, 3, 4]
    assert [m["id"] for m in messages[2:]] == [winner, *ids]
    assert [m["superseded_at"] is None for m in messages] == [True, False, False, True]
