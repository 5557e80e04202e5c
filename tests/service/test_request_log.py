"""Every request is logged once, as structured fields carrying its request id."""

from __future__ import annotations

import json
import logging

import pytest
from starlette.testclient import TestClient

from service.logs import JsonFormatter
from tests.service.conftest import sign_up


def test_each_request_logs_one_line_with_its_request_id_status_and_user(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    headers = sign_up(client)
    with caplog.at_level(logging.INFO, logger="service.requests"):
        response = client.get("/sessions", headers=headers | {"X-Request-ID": "trace-42"})
    [record] = [r for r in caplog.records if r.name == "service.requests"]
    line = json.loads(JsonFormatter().format(record))
    assert response.headers["x-request-id"] == "trace-42"
    assert line["message"] == "request"
    assert line["request_id"] == "trace-42"
    assert (line["method"], line["path"], line["status"]) == ("GET", "/sessions", 200)
    assert line["user_id"] is not None
    assert line["duration_ms"] >= 0


def test_an_unusable_client_request_id_is_replaced_by_a_generated_one(client: TestClient) -> None:
    response = client.get("/health", headers={"X-Request-ID": "has spaces; and a semicolon"})
    generated = response.headers["x-request-id"]
    assert generated != "has spaces; and a semicolon"
    assert len(generated) == 32
