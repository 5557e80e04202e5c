"""The service answers at all: health, readiness and a first chat turn."""

from __future__ import annotations

import httpx
from starlette.testclient import TestClient

from service.app import create_app
from service.settings import Settings
from tests.service.conftest import serve


def test_health_and_readiness_answer_ok(client: TestClient) -> None:
    assert client.get("/health").json() == {"status": "ok"}
    ready = client.get("/ready")
    assert ready.status_code == 200
    assert ready.json() == {"status": "ready", "checks": {"database": "ok", "qdrant": "ok"}}


def test_a_served_app_answers_a_first_chat_over_http(settings: Settings) -> None:
    with serve(create_app(settings)) as url:
        response = httpx.post(f"{url}/chat", json={"query": "hello"}, timeout=10)
    assert response.status_code == 200
    assert response.json()["saved"] is True
    assert response.headers["x-request-id"]
