"""PostgreSQL stops under a running service, then comes back (issue 4, DESIGN.md section 6).

While it is down: /ready fails, history endpoints answer 503 with Retry-After within 2 s,
and /chat still answers, saying the turn was not saved. Once it is back, the same process
serves everything again without a restart.

The module has its own cluster (it is stopped and started by the tests) and one app served
by uvicorn over it for the whole module, as a deployed service would be.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from service.app import create_app
from tests.conftest import dbmate, sse_events
from tests.pgserver import TempServer, embedded_server
from tests.service.conftest import app_settings, serve

# The bound for a 503 from a history endpoint while the database is down.
ANSWER_WITHIN = 2.0  # seconds
# How long the client waits at most, so that a hanging request fails the test, not the run.
CLIENT_TIMEOUT = 30.0  # seconds


@dataclass(frozen=True)
class Service:
    """The served app over the module's cluster, and a user with a session of two turns."""

    server: TempServer
    http: httpx.Client
    auth: dict[str, str]
    session_id: str

    def history(self) -> httpx.Response:
        return self.http.get(f"/sessions/{self.session_id}/messages", headers=self.auth)

    def chat(self, message: str, **fields: Any) -> httpx.Response:
        return self.http.post("/chat", json={"message": message, **fields}, headers=self.auth)


@pytest.fixture(scope="module")
def server() -> Iterator[TempServer]:
    server = embedded_server()
    try:
        yield server
    finally:
        try:
            server.stop()
        finally:
            server.remove()


@pytest.fixture(scope="module")
def service(server: TempServer) -> Iterator[Service]:
    url = server.url("chat") + "&sslmode=disable"
    dbmate(url, "up")  # creates the chat database, then migrates it
    with (
        serve(create_app(app_settings(url))) as base_url,
        httpx.Client(base_url=base_url, timeout=CLIENT_TIMEOUT) as http,
    ):
        first = http.post("/chat", json={"message": "what is the capital of France?"})
        assert first.status_code == 200, first.text
        assert first.json()["saved"] is True
        http.cookies.clear()  # authenticate by header only
        service = Service(
            server=server,
            http=http,
            auth={"Authorization": f"Bearer {first.json()['token']}"},
            session_id=first.json()["session_id"],
        )
        second = service.chat("and of Italy?", session_id=service.session_id)
        assert second.status_code == 200, second.text
        assert second.json()["saved"] is True
        yield service


@pytest.fixture
def outage(service: Service) -> Iterator[Service]:
    """PostgreSQL is stopped for the test and started again after it."""
    service.server.stop()
    try:
        yield service
    finally:
        service.server.start()


def timed(request: Callable[[], httpx.Response]) -> tuple[httpx.Response, float]:
    """The response of ``request()`` and the seconds it took to arrive."""
    started = time.monotonic()
    response = request()
    return response, time.monotonic() - started


def assert_database_unavailable(response: httpx.Response) -> None:
    assert response.status_code == 503, response.text
    assert int(response.headers["Retry-After"]) > 0
    assert response.json()["error"]["code"] == "database_unavailable"


def test_ready_fails_naming_the_database_while_it_is_down(outage: Service) -> None:
    response, elapsed = timed(lambda: outage.http.get("/ready"))

    assert response.status_code == 503, response.text
    assert response.headers["Retry-After"]
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["checks"]["database"] != "ok"
    assert body["checks"]["qdrant"] == "ok"
    assert elapsed < ANSWER_WITHIN


@pytest.mark.parametrize(
    "path",
    [
        "/sessions",
        "/sessions/{session_id}",
        "/sessions/{session_id}/messages",
        "/history/{session_id}",
    ],
)
def test_history_endpoints_answer_503_with_retry_after_within_two_seconds(
    outage: Service, path: str
) -> None:
    url = path.format(session_id=outage.session_id)

    response, elapsed = timed(lambda: outage.http.get(url, headers=outage.auth))

    assert_database_unavailable(response)
    assert elapsed < ANSWER_WITHIN


def test_chat_in_a_session_answers_and_says_it_was_not_saved(outage: Service) -> None:
    response = outage.chat("and of Spain?", session_id=outage.session_id)

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["saved"] is False
    assert body["answer"]
    assert body["user_message_id"] is None
    assert body["assistant_message_id"] is None


def test_chat_without_credentials_answers_and_says_it_was_not_saved(outage: Service) -> None:
    response = outage.http.post("/chat", json={"message": "what is the capital of Spain?"})

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["saved"] is False
    assert body["answer"]
    assert "token" not in body  # no user could be made, so no credential was issued
    assert "set-cookie" not in response.headers


def test_streamed_chat_answers_and_says_it_was_not_saved(outage: Service) -> None:
    response = outage.chat("and of Portugal?", session_id=outage.session_id, stream=True)

    assert response.status_code == 200, response.text
    events = sse_events(response.text)
    names = [name for name, _ in events]
    assert names[0] == "start"
    assert names[-1] == "done"
    assert set(names[1:-1]) <= {"delta"}
    start, done = events[0][1], events[-1][1]
    assert start["saved"] is False
    assert done["saved"] is False
    assert done["answer"]


def test_the_same_process_recovers_when_the_database_comes_back(service: Service) -> None:
    before = service.history()
    assert before.status_code == 200, before.text
    service.server.stop()
    try:
        assert_database_unavailable(service.history())
        assert service.http.get("/ready").status_code == 503
    finally:
        service.server.start()

    ready = service.http.get("/ready")
    assert ready.status_code == 200, ready.text
    assert ready.json()["checks"] == {"database": "ok", "qdrant": "ok"}
    after = service.history()
    assert after.status_code == 200, after.text
    assert after.json()["messages"] == before.json()["messages"]

    turn = service.chat("and of Germany?", session_id=service.session_id)
    assert turn.status_code == 200, turn.text
    assert turn.json()["saved"] is True
    messages = service.history().json()["messages"]
    assert [message["id"] for message in messages[-2:]] == [
        turn.json()["user_message_id"],
        turn.json()["assistant_message_id"],
    ]
    assert messages[-2]["content"] == "and of Germany?"
    assert messages[-1]["status"] == "complete"
    assert messages[-1]["content"] == turn.json()["answer"]
