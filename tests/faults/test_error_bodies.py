"""Error bodies speak our words; the driver's and the provider's go to the log, with the
request id (DESIGN.md section 6; issue 12, item 7).

Each failure is real: a constraint PostgreSQL enforces, a value asyncpg cannot send, a
provider (tests/rag/fake_openai.py, a real HTTP server on loopback) answering with an error.
The body must not carry their text; a log line must, with the X-Request-ID the client got.
(The public API validates its input before the store sees it, down to NUL bytes and cursor
ranges: tests/service/test_bad_input.py. PostgreSQL's constraints are reached here through
routes of the test's own, behind the service's real error handling.)
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.testclient import TestClient

from service import store
from service.app import create_app
from service.connections import open_pool
from service.errors import exception_handlers
from service.middleware import RequestContext
from service.settings import Settings
from tests.conftest import sse_events
from tests.rag.conftest import fake_openai as fake_openai
from tests.rag.conftest import fake_openai_server as fake_openai_server
from tests.rag.conftest import post_text, wait_for_document
from tests.rag.fake_openai import FakeOpenAI
from tests.service.conftest import app_settings, sign_up

# What the fake provider says when it fails, and how the service's provider client reports it.
PROVIDER_WORDS = ["the fake provider is failing", "HTTP 500", "HTTP 400", "ProviderError"]


def logged(caplog: pytest.LogCaptureFixture, request_id: str) -> str:
    """Every log line about the request with this id, as one text."""
    return "\n".join(
        record.getMessage()
        for record in caplog.records
        if getattr(record, "request_id", None) == request_id
    )


def assert_in_our_words(response: Any, driver_words: list[str]) -> dict[str, Any]:
    """The error of a response whose body holds none of ``driver_words``."""
    body = response.text
    for words in driver_words:
        assert words.lower() not in body.lower(), f"{words!r} in the body: {body}"
    error: dict[str, Any] = response.json()["error"]
    assert error["message"]
    return error


# --- PostgreSQL's words ---------------------------------------------------------------------


@pytest.fixture
def store_client(database_url: str) -> Iterator[TestClient]:
    """The service's error handling (its handlers and request-id middleware) around routes
    that make real constraint violations in this test's database: the API validates its
    input before the store sees it, so no public route reaches these constraints."""

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[dict[str, Any]]:
        pool = await open_pool(Settings(database_url=database_url))
        try:
            yield {"db": pool}
        finally:
            await pool.close()

    async def duplicate_user(request: Request) -> Response:
        await store.create_user(request.state.db, email="ada@example.org")
        await store.create_user(request.state.db, email="ADA@example.org")  # users_email_key
        return Response(status_code=204)

    async def bad_email(request: Request) -> Response:
        await store.create_user(request.state.db, email="not-an-email")  # users_email_check
        return Response(status_code=204)

    async def orphan_session(request: Request) -> Response:
        await store.create_session(request.state.db, uuid.uuid4())  # no such user: 23503
        return Response(status_code=204)

    async def huge_limit(request: Request) -> Response:
        user = await store.create_anonymous_user(request.state.db)
        await store.list_sessions(request.state.db, user.id, limit=2**63)  # asyncpg: no int8
        return Response(status_code=204)

    app = Starlette(
        routes=[
            Route("/duplicate-user", duplicate_user, methods=["POST"]),
            Route("/bad-email", bad_email, methods=["POST"]),
            Route("/orphan-session", orphan_session, methods=["POST"]),
            Route("/huge-limit", huge_limit, methods=["POST"]),
        ],
        middleware=[Middleware(RequestContext)],
        exception_handlers=exception_handlers(),
        lifespan=lifespan,
    )
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client


@pytest.mark.parametrize(
    ("path", "status", "ours", "postgres"),
    [
        ("/duplicate-user", 409, "users_email_key", "duplicate key value violates unique"),
        ("/bad-email", 422, "users_email_check", "violates check constraint"),
        ("/orphan-session", 404, "exist", "violates foreign key constraint"),
        ("/huge-limit", 422, "out of range", "invalid input for query argument"),
    ],
)
def test_a_value_the_database_refuses_is_answered_in_our_words_and_logged_in_its_own(
    store_client: TestClient,
    caplog: pytest.LogCaptureFixture,
    path: str,
    status: int,
    ours: str,
    postgres: str,
) -> None:
    with caplog.at_level(logging.INFO, logger="service"):
        response = store_client.post(path)

    assert response.status_code == status, response.text
    error = assert_in_our_words(response, [postgres, "DETAIL", "Key ("])
    assert ours in error["message"]
    assert postgres in logged(caplog, response.headers["x-request-id"])


# --- the provider's words -------------------------------------------------------------------


@pytest.fixture
def provider_client(database_url: str, fake_openai: FakeOpenAI) -> Iterator[TestClient]:
    """The app with embeddings and answers from the fake provider."""
    settings = app_settings(
        database_url,
        ingest_poll_seconds=0.1,
        embedding_base_url=fake_openai.url,
        embedding_model="fake-embed",
        llm_base_url=fake_openai.url,
        llm_model="fake-chat",
    )
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        yield client


def test_an_embeddings_failure_says_the_index_cannot_be_searched_and_logs_the_provider(
    provider_client: TestClient, fake_openai: FakeOpenAI, caplog: pytest.LogCaptureFixture
) -> None:
    headers = sign_up(provider_client)
    fake_openai.embeddings_status = 500

    with caplog.at_level(logging.INFO):
        response = provider_client.post("/chat", json={"message": "otters?"}, headers=headers)

    assert response.status_code == 503, response.text
    error = assert_in_our_words(response, PROVIDER_WORDS)
    assert error["code"] == "retrieval_unavailable"
    assert "the fake provider is failing" in logged(caplog, response.headers["x-request-id"])


@pytest.mark.parametrize(("provider_status", "status"), [(500, 503), (400, 502)])
def test_a_language_model_failure_is_answered_in_our_words_and_logged_in_its_own(
    provider_client: TestClient,
    fake_openai: FakeOpenAI,
    caplog: pytest.LogCaptureFixture,
    provider_status: int,
    status: int,
) -> None:
    headers = sign_up(provider_client)
    created = post_text(provider_client, headers, "Otters hold hands while they sleep.")
    assert wait_for_document(provider_client, headers, created["id"])["status"] == "completed"
    fake_openai.chat_status = provider_status

    with caplog.at_level(logging.INFO):
        response = provider_client.post(
            "/chat", json={"message": "Why do otters hold hands?"}, headers=headers
        )
        streamed = provider_client.post(
            "/chat", json={"message": "Why do otters hold hands?", "stream": True}, headers=headers
        )

    assert response.status_code == status, response.text
    assert_in_our_words(response, PROVIDER_WORDS)
    assert "the fake provider is failing" in logged(caplog, response.headers["x-request-id"])
    [error] = [data for name, data in sse_events(streamed.text) if name == "error"]
    for words in PROVIDER_WORDS:
        assert words not in json.dumps(error), error
    # The history shows the failed answers in our words too: it is shown to the user.
    sessions = [response.json()["error"]["details"], error["error"]["details"]]
    for session_id in (details["session_id"] for details in sessions):
        history = provider_client.get(f"/sessions/{session_id}/messages", headers=headers)
        assert history.status_code == 200, history.text
        [failed] = [m for m in history.json()["messages"] if m["status"] == "failed"]
        for words in PROVIDER_WORDS:
            assert words.lower() not in failed["error"].lower(), failed
