"""POST /chat: legacy and new bodies, sessions and titles, idempotent retries, streaming,
failing answers, many concurrent turns, and signing out."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from starlette.testclient import TestClient

from service.app import create_app
from service.domain import Answer, Question
from service.settings import Settings
from tests.conftest import sse_events
from tests.service.conftest import app_settings, serve, sign_up

# What the history says of it: our words, not the model's (its text goes to the log only).
FAILURE = "the answer could not be generated (an internal error)"


class ExplodingAnswerer:
    """Starts answering, then fails: the model went away mid-answer."""

    async def stream(self, question: Question) -> AsyncIterator[str | Answer]:
        yield "Partial"
        raise RuntimeError("model exploded")


def messages_of(
    client: TestClient,
    session_id: str,
    headers: dict[str, str],
    path: str = "/sessions/{}/messages",
) -> list[dict[str, Any]]:
    response = client.get(path.format(session_id), headers=headers, params={"limit": 100})
    assert response.status_code == 200, response.text
    assert response.json()["session_id"] == session_id
    messages: list[dict[str, Any]] = response.json()["messages"]
    return messages


def new_session(client: TestClient, headers: dict[str, str]) -> str:
    response = client.post("/sessions", json={}, headers=headers)
    assert response.status_code == 201, response.text
    session_id: str = response.json()["id"]
    return session_id


@pytest.fixture
def failing_client(settings: Settings) -> Iterator[TestClient]:
    """The app over the same database as ``client``, with an answerer that always fails."""
    app = create_app(settings, answerer=ExplodingAnswerer())
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


# --- the legacy body, tokens and cookies ----------------------------------------------------


def test_legacy_query_without_credentials_answers_and_issues_a_token_and_cookie(
    client: TestClient, settings: Settings
) -> None:
    response = client.post("/chat", json={"query": "What is in the handbook?"})

    assert response.status_code == 200, response.text
    body = response.json()
    assert isinstance(body["answer"], str)
    assert body["answer"]
    assert isinstance(body["sources"], list)
    assert "confidence" in body
    for key in ("session_id", "user_message_id", "assistant_message_id"):
        uuid.UUID(body[key])
    assert set(body["usage"]) >= {"prompt_tokens", "completion_tokens", "total_tokens"}
    assert body["saved"] is True
    assert isinstance(body["token"], str)
    assert body["token"]
    set_cookie = response.headers["set-cookie"]
    assert f"{settings.cookie_name}={body['token']}" in set_cookie
    assert "httponly" in set_cookie.lower()


def test_a_token_continues_the_session_and_history_lists_both_turns_oldest_first(
    client: TestClient, settings: Settings
) -> None:
    first = client.post("/chat", json={"query": "first question"}).json()
    client.cookies.clear()
    headers = {"Authorization": f"Bearer {first['token']}"}

    second = client.post(
        "/chat",
        json={"query": "second question", "session_id": first["session_id"]},
        headers=headers,
    )

    assert second.status_code == 200, second.text
    assert second.json()["session_id"] == first["session_id"]
    assert "token" not in second.json()
    assert "set-cookie" not in second.headers
    for path in ("/sessions/{}/messages", "/history/{}"):
        messages = messages_of(client, first["session_id"], headers, path)
        assert [m["seq"] for m in messages] == [1, 2, 3, 4]
        assert [m["role"] for m in messages] == ["user", "assistant", "user", "assistant"]
        assert [m["status"] for m in messages] == ["complete"] * 4
        assert messages[0]["content"] == "first question"
        assert messages[2]["content"] == "second question"
        assert messages[1]["content"] == first["answer"]
        assert messages[3]["content"] == second.json()["answer"]
        assert messages[0]["id"] == first["user_message_id"]
        assert messages[1]["id"] == first["assistant_message_id"]
        assert messages[3]["id"] == second.json()["assistant_message_id"]


def test_the_cookie_alone_authenticates(client: TestClient, settings: Settings) -> None:
    first = client.post("/chat", json={"query": "cookie question"})
    assert client.cookies.get(settings.cookie_name) == first.json()["token"]

    again = client.post(
        "/chat",
        json={"query": "follow-up", "session_id": first.json()["session_id"]},
        headers={"Origin": "http://testserver"},  # a browser on the service's own page
    )
    history = client.get(f"/history/{first.json()['session_id']}")

    assert again.status_code == 200, again.text
    assert "token" not in again.json()
    assert history.status_code == 200, history.text
    assert [m["content"] for m in history.json()["messages"] if m["role"] == "user"] == [
        "cookie question",
        "follow-up",
    ]


# --- the new body and its authentication ------------------------------------------------------


def test_the_new_message_body_answers_into_the_given_session(client: TestClient) -> None:
    headers = sign_up(client)
    session_id = new_session(client, headers)

    response = client.post(
        "/chat",
        json={"message": "new body", "session_id": session_id, "stream": False},
        headers=headers,
    )

    assert response.status_code == 200, response.text
    assert response.json()["session_id"] == session_id
    assert response.json().get("replayed", False) is False
    assert [m["content"] for m in messages_of(client, session_id, headers)] == [
        "new body",
        response.json()["answer"],
    ]


def test_continuing_a_session_without_a_credential_is_unauthorized(client: TestClient) -> None:
    headers = sign_up(client)
    session_id = new_session(client, headers)

    response = client.post("/chat", json={"message": "who am I?", "session_id": session_id})

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "unauthorized"
    assert messages_of(client, session_id, headers) == []


@pytest.mark.parametrize(
    "authorization",
    ["Bearer not-a-real-token", "Bearer " + "x" * 43, "Basic dXNlcjpwYXNz"],
    ids=["garbage", "well-formed-unknown", "wrong-scheme"],
)
def test_chat_with_an_invalid_token_is_unauthorized(client: TestClient, authorization: str) -> None:
    response = client.post(
        "/chat", json={"message": "hello"}, headers={"Authorization": authorization}
    )

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "unauthorized"
    assert "set-cookie" not in response.headers


# --- titles -------------------------------------------------------------------------------


def test_a_new_session_is_titled_after_its_first_message(client: TestClient) -> None:
    response = client.post("/chat", json={"message": "  How do   refunds\nwork?  "})
    headers = {"Authorization": f"Bearer {response.json()['token']}"}
    client.cookies.clear()

    session = client.get(f"/sessions/{response.json()['session_id']}", headers=headers)

    assert session.json()["title"] == "How do refunds work?"


def test_an_untitled_session_is_titled_by_its_first_chat_and_keeps_that_title(
    client: TestClient,
) -> None:
    headers = sign_up(client)
    created = client.post("/sessions", json={}, headers=headers).json()
    assert created["title"] is None

    for text in ("Shipping to Norway", "And to Sweden?"):
        answered = client.post(
            "/chat", json={"message": text, "session_id": created["id"]}, headers=headers
        )
        assert answered.status_code == 200, answered.text

    session = client.get(f"/sessions/{created['id']}", headers=headers).json()
    assert session["title"] == "Shipping to Norway"
    assert session["message_count"] == 4


def test_a_session_created_with_a_title_keeps_it_after_a_chat(client: TestClient) -> None:
    headers = sign_up(client)
    created = client.post("/sessions", json={"title": "Mine"}, headers=headers).json()

    client.post("/chat", json={"message": "anything", "session_id": created["id"]}, headers=headers)

    assert client.get(f"/sessions/{created['id']}", headers=headers).json()["title"] == "Mine"


# --- idempotent retries --------------------------------------------------------------------


@pytest.mark.parametrize("given_session", [True, False], ids=["with-session", "without-session"])
def test_a_retry_with_the_same_client_message_id_replays_the_turn(
    client: TestClient, given_session: bool
) -> None:
    headers = sign_up(client)
    request: dict[str, Any] = {"message": "charge me once", "client_message_id": "c-1"}
    if given_session:
        request["session_id"] = new_session(client, headers)

    first = client.post("/chat", json=request, headers=headers)
    retry = client.post("/chat", json=request, headers=headers)

    assert first.status_code == 200, first.text
    assert retry.status_code == 200, retry.text
    ids = ("session_id", "user_message_id", "assistant_message_id")
    assert {k: retry.json()[k] for k in ids} == {k: first.json()[k] for k in ids}
    assert first.json().get("replayed", False) is False
    assert retry.json()["replayed"] is True
    assert retry.json()["answer"] == first.json()["answer"]
    assert retry.json()["saved"] is True
    # The retry may also name the session it learnt from the first answer.
    named = client.post(
        "/chat", json=request | {"session_id": first.json()["session_id"]}, headers=headers
    )
    assert named.json()["replayed"] is True
    assert named.json()["assistant_message_id"] == first.json()["assistant_message_id"]
    messages = messages_of(client, first.json()["session_id"], headers)
    assert [(m["seq"], m["role"]) for m in messages] == [(1, "user"), (2, "assistant")]
    assert messages[0]["client_message_id"] == "c-1"


def test_the_same_client_message_id_in_another_session_is_a_new_turn(client: TestClient) -> None:
    headers = sign_up(client)
    sessions = [new_session(client, headers), new_session(client, headers)]

    answers = [
        client.post(
            "/chat",
            json={"message": "same id", "client_message_id": "shared", "session_id": session},
            headers=headers,
        ).json()
        for session in sessions
    ]

    assert answers[0]["user_message_id"] != answers[1]["user_message_id"]
    assert [a.get("replayed", False) for a in answers] == [False, False]
    for session in sessions:
        assert len(messages_of(client, session, headers)) == 2


# --- streaming ----------------------------------------------------------------------------


def test_a_streamed_answer_sends_start_deltas_and_done_and_is_stored_once(
    client: TestClient,
) -> None:
    headers = sign_up(client)
    session_id = new_session(client, headers)

    response = client.post(
        "/chat",
        json={"message": "stream it", "session_id": session_id, "stream": True},
        headers=headers,
    )

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    events = sse_events(response.text)
    names = [name for name, _ in events]
    assert names[0] == "start"
    assert names[-1] == "done"
    assert set(names[1:-1]) == {"delta"}
    assert len(names) >= 3
    start, done = events[0][1], events[-1][1]
    assert start["session_id"] == session_id
    streamed = "".join(data["text"] for name, data in events if name == "delta")
    assert streamed == done["answer"]
    assert done["saved"] is True
    assert done["assistant_message_id"] == start["assistant_message_id"]
    assistants = [m for m in messages_of(client, session_id, headers) if m["role"] == "assistant"]
    assert len(assistants) == 1
    assert assistants[0]["id"] == done["assistant_message_id"]
    assert assistants[0]["status"] == "complete"
    assert assistants[0]["content"] == streamed


def test_a_streamed_first_turn_without_credentials_carries_the_token(
    client: TestClient, settings: Settings
) -> None:
    response = client.post("/chat", json={"message": "stream anon", "stream": True})

    events = sse_events(response.text)
    token = events[0][1]["token"]
    assert token
    assert f"{settings.cookie_name}={token}" in response.headers["set-cookie"]
    client.cookies.clear()
    history = client.get(
        f"/history/{events[0][1]['session_id']}", headers={"Authorization": f"Bearer {token}"}
    )
    assert [m["status"] for m in history.json()["messages"]] == ["complete", "complete"]


# --- a failing answerer ----------------------------------------------------------------------


def test_a_failed_answer_is_a_502_and_the_turn_is_kept_as_failed(
    client: TestClient, failing_client: TestClient
) -> None:
    headers = sign_up(client)
    session_id = new_session(client, headers)

    response = failing_client.post(
        "/chat",
        json={"message": "explode", "session_id": session_id, "client_message_id": "f-1"},
        headers=headers,
    )

    assert response.status_code == 502
    error = response.json()["error"]
    assert error["code"] == "answer_failed"
    assert "model exploded" not in error["message"]  # provider text goes to the log only
    messages = messages_of(client, session_id, headers)
    assert [(m["role"], m["status"]) for m in messages] == [
        ("user", "complete"),
        ("assistant", "failed"),
    ]
    assert messages[0]["content"] == "explode"
    assert messages[1]["error"] == FAILURE
    assert messages[1]["reply_to_id"] == messages[0]["id"]


def test_a_failed_streamed_answer_sends_an_error_event_and_fails_the_turn_once(
    client: TestClient, failing_client: TestClient
) -> None:
    headers = sign_up(client)
    session_id = new_session(client, headers)

    response = failing_client.post(
        "/chat",
        json={"message": "explode", "session_id": session_id, "stream": True},
        headers=headers,
    )

    assert response.headers["content-type"].startswith("text/event-stream")
    events = sse_events(response.text)
    names = [name for name, _ in events]
    assert names[0] == "start"
    assert names[-1] == "error"
    assert "done" not in names
    error = events[-1][1]["error"]
    assert error["code"] == "answer_failed"
    assert "model exploded" not in error["message"]
    messages = messages_of(client, session_id, headers)
    assert [(m["role"], m["status"]) for m in messages] == [
        ("user", "complete"),
        ("assistant", "failed"),
    ]
    assert messages[1]["id"] == events[0][1]["assistant_message_id"]
    assert messages[1]["error"] == FAILURE


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
def test_retrying_a_failed_turn_returns_the_failure_not_a_new_turn(
    client: TestClient, failing_client: TestClient, stream: bool
) -> None:
    headers = sign_up(client)
    session_id = new_session(client, headers)
    request = {"message": "explode", "session_id": session_id, "client_message_id": "f-2"}
    first = failing_client.post("/chat", json=request | {"stream": stream}, headers=headers)
    assert first.status_code in (200, 502)

    # The retry reaches a healthy app: it must still not answer the failed turn again.
    retry = client.post("/chat", json=request | {"stream": stream}, headers=headers)

    assert retry.status_code == 502
    error = retry.json()["error"]
    assert error["code"] == "answer_failed"
    assert "model exploded" not in error["message"]
    messages = messages_of(client, session_id, headers)
    assert len(messages) == 2
    assert error["details"]["assistant_message_id"] == messages[1]["id"]
    assert messages[1]["status"] == "failed"


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
def test_a_failed_first_turn_without_credentials_still_hands_out_the_new_users_credential(
    failing_client: TestClient, settings: Settings, stream: bool
) -> None:
    request = {"message": "explode", "client_message_id": "anon-1", "stream": stream}

    first = failing_client.post("/chat", json=request)
    # A browser retries with the cookie it was given; without one it could never find the turn.
    retry = failing_client.post("/chat", json=request, headers={"Origin": "http://testserver"})

    assert settings.cookie_name in first.headers.get("set-cookie", "")
    assert failing_client.cookies.get(settings.cookie_name)
    assert retry.status_code == 502
    details = retry.json()["error"]["details"]
    start = sse_events(first.text)[0][1] if stream else first.json()["error"]["details"]
    assert details["session_id"] == start["session_id"]
    assert details["assistant_message_id"] == start["assistant_message_id"]


# --- concurrency ----------------------------------------------------------------------------


async def _concurrent_turns(url: str) -> dict[str, tuple[dict[str, str], list[str]]]:
    """10 users with a fresh session each, then 100 turns (10 per session) all at once."""
    async with httpx.AsyncClient(base_url=url, timeout=60) as http:
        users: list[dict[str, str]] = []
        for _ in range(10):
            signed = await http.post("/chat", json={"message": "hello"})
            assert signed.status_code == 200, signed.text
            users.append({"Authorization": f"Bearer {signed.json()['token']}"})
            http.cookies.clear()
        plan: dict[str, tuple[dict[str, str], list[str]]] = {}
        for number, headers in enumerate(users):
            created = await http.post("/sessions", json={}, headers=headers)
            assert created.status_code == 201, created.text
            questions = [f"question {number}-{turn} {uuid.uuid4()}" for turn in range(10)]
            plan[created.json()["id"]] = (headers, questions)

        async def turn(session_id: str, headers: dict[str, str], question: str) -> None:
            response = await http.post(
                "/chat", json={"message": question, "session_id": session_id}, headers=headers
            )
            assert response.status_code == 200, response.text
            assert response.json()["saved"] is True
            assert response.json()["session_id"] == session_id

        await asyncio.gather(
            *(
                turn(session_id, headers, question)
                for session_id, (headers, questions) in plan.items()
                for question in questions
            )
        )
        return plan


@pytest.mark.anyio
async def test_concurrent_turns_keep_every_session_gap_free_and_paired(database_url: str) -> None:
    settings = app_settings(database_url, db_pool_min_size=1, db_pool_max_size=10)
    with serve(create_app(settings)) as url:
        plan = await _concurrent_turns(url)
        async with httpx.AsyncClient(base_url=url, timeout=30) as http:
            histories = {
                session_id: await http.get(
                    f"/sessions/{session_id}/messages", params={"limit": 100}, headers=headers
                )
                for session_id, (headers, _) in plan.items()
            }

    asked: list[str] = []
    for session_id, response in histories.items():
        assert response.status_code == 200, response.text
        messages = response.json()["messages"]
        assert [m["seq"] for m in messages] == list(range(1, 21))
        assert [m["role"] for m in messages] == ["user", "assistant"] * 10
        assert {m["status"] for m in messages} == {"complete"}
        for user, assistant in zip(messages[::2], messages[1::2], strict=True):
            assert assistant["reply_to_id"] == user["id"]
        questions = [m["content"] for m in messages[::2]]
        assert sorted(questions) == sorted(plan[session_id][1])
        asked += questions
    assert len(asked) == len(set(asked)) == 100


# --- signing out ----------------------------------------------------------------------------


def test_logging_out_revokes_the_token(client: TestClient) -> None:
    headers = sign_up(client)
    assert client.get("/sessions", headers=headers).status_code == 200

    logout = client.post("/auth/logout", headers=headers)

    assert logout.status_code == 204
    assert client.get("/sessions", headers=headers).status_code == 401
    again = client.post("/chat", json={"message": "still me?"}, headers=headers)
    assert again.status_code == 401
    assert client.post("/auth/logout", headers=headers).status_code == 401


def test_logging_out_with_the_cookie_revokes_it_and_clears_it(
    client: TestClient, settings: Settings
) -> None:
    token = client.post("/chat", json={"message": "hi"}).json()["token"]

    logout = client.post("/auth/logout", headers={"Origin": "http://testserver"})

    assert logout.status_code == 204
    assert settings.cookie_name in logout.headers["set-cookie"]
    assert client.cookies.get(settings.cookie_name) is None
    response = client.get("/sessions", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401


def test_a_cookie_that_names_no_one_is_cleared_with_the_401(
    client: TestClient, settings: Settings
) -> None:
    """A browser holding a revoked or expired cookie is not stuck with it: the page cannot
    remove an HttpOnly cookie, so the 401 does."""
    token = client.post("/chat", json={"message": "hi"}).json()["token"]
    revoked = client.post("/auth/logout", headers={"Authorization": f"Bearer {token}"})
    assert revoked.status_code == 204
    client.cookies.set(settings.cookie_name, token)

    refused = client.get("/sessions")

    assert refused.status_code == 401
    cleared = refused.headers["set-cookie"]
    assert cleared.startswith(f'{settings.cookie_name}=""')
    assert "Max-Age=0" in cleared
