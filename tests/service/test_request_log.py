"""Every request is logged once, as structured fields carrying its request id."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest
from starlette.testclient import TestClient

from service.app import create_app
from service.logs import JsonFormatter, configure_logging, request_log
from service.settings import Settings
from tests.service.conftest import sign_up
from tests.service.test_chat import ExplodingAnswerer


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


@pytest.fixture
def json_lines() -> Iterator[io.StringIO]:
    """What the service's loggers write while the test runs, as the JSON lines of stderr."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    service = logging.getLogger("service")
    service.addHandler(handler)
    level = service.level
    service.setLevel(logging.INFO)
    try:
        yield stream
    finally:
        service.removeHandler(handler)
        service.setLevel(level)


def test_every_line_logged_while_serving_a_request_carries_its_id(
    client: TestClient, settings: Settings, json_lines: io.StringIO
) -> None:
    headers = sign_up(client)
    with TestClient(create_app(settings, answerer=ExplodingAnswerer())) as failing:
        json_lines.seek(0)
        json_lines.truncate()  # what the start-up logged
        response = failing.post(
            "/chat", json={"message": "explode"}, headers=headers | {"X-Request-ID": "trace-7"}
        )
        assert response.status_code == 502
    lines = [json.loads(line) for line in json_lines.getvalue().splitlines() if line.strip()]
    # The use case's own line (with the model's text, which the response does not carry) is
    # found by the id the client was given.
    [failure] = [line for line in lines if line["logger"] == "service.chat"]
    assert failure["request_id"] == "trace-7"
    assert "model exploded" in failure["exception"]
    assert all(line["request_id"] == "trace-7" for line in lines), lines


@pytest.fixture
def direct_lines() -> Iterator[io.StringIO]:
    """Request lines as a configured service writes them: straight to the stream."""
    stream = io.StringIO()
    request_log.write_to(stream)
    try:
        yield stream
    finally:
        request_log.write_to(None)


def test_a_configured_service_writes_the_request_line_itself_with_the_same_fields(
    client: TestClient, direct_lines: io.StringIO, caplog: pytest.LogCaptureFixture
) -> None:
    headers = sign_up(client)
    direct_lines.seek(0)
    direct_lines.truncate()
    with caplog.at_level(logging.INFO, logger="service.requests"):
        client.get("/sessions", headers=headers | {"X-Request-ID": "trace-43"})
    assert not [r for r in caplog.records if r.name == "service.requests"]  # not a record
    [line] = [json.loads(text) for text in direct_lines.getvalue().splitlines()]
    assert list(line) == [
        "time",
        "level",
        "logger",
        "message",
        "request_id",
        "method",
        "path",
        "status",
        "duration_ms",
        "user_id",
    ]
    assert (line["level"], line["logger"], line["message"]) == (
        "info",
        "service.requests",
        "request",
    )
    assert (line["request_id"], line["method"], line["path"], line["status"]) == (
        "trace-43",
        "GET",
        "/sessions",
        200,
    )
    assert line["user_id"] is not None
    assert line["time"].endswith("+00:00")


def test_above_info_there_is_no_request_line() -> None:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    try:
        configure_logging("warning")
        assert not request_log.enabled
        configure_logging("info")
        assert request_log.enabled
    finally:
        root.handlers[:], root.level = handlers, level
        request_log.write_to(None)
