"""The gateway answers the route table's operations as Starlette's router would have, and
leaves the rest to the router."""

from __future__ import annotations

import uuid

import pytest
from starlette.routing import Match, Route
from starlette.testclient import TestClient
from starlette.types import Receive, Scope, Send

from service.gateway import Gateway
from service.routes import OPERATIONS, Operation, routes
from tests.service.conftest import sign_up


def _scope(method: str, path: str) -> Scope:
    return {"type": "http", "method": method, "path": path, "root_path": "", "headers": []}


def _concrete(path: str) -> str:
    return "/".join(str(uuid.uuid4()) if part[:1] == "{" else part for part in path.split("/"))


async def _never(scope: Scope, receive: Receive, send: Send) -> None:
    raise AssertionError("the router was called")


@pytest.mark.parametrize(
    "operation",
    [operation for operation in OPERATIONS if not operation.keys],
    ids=lambda operation: f"{operation.method} {operation.path}",
)
def test_each_operation_is_found_where_the_router_would_find_it(operation: Operation) -> None:
    gateway = Gateway(_never)
    path = _concrete(operation.path)
    for method in (operation.method, "HEAD") if operation.method == "GET" else (operation.method,):
        scope = _scope(method, path)
        found = gateway.find(scope)
        assert found is not None
        assert found[0] == operation.path
        # The router's choice: the first route matching path and method fully.
        chosen = next(
            route for route in routes() if route.matches(_scope(method, path))[0] is Match.FULL
        )
        assert isinstance(chosen, Route)
        assert chosen.path == found[0]
        assert scope["path_params"] == chosen.matches(_scope(method, path))[1]["path_params"]


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/"),  # the chat page
        ("GET", "/docs"),
        ("GET", "/no/such/path"),
        ("PATCH", "/chat"),  # a method the path does not take: the router's 405
        ("GET", "/sessions//messages"),  # an empty parameter matches nothing
        ("GET", "/sessions/"),  # the router's trailing-slash redirect
        ("GET", "/history/my-widget-key"),  # a session name: matched by the router
    ],
)
def test_the_rest_goes_to_the_router(method: str, path: str) -> None:
    assert Gateway(_never).find(_scope(method, path)) is None


def test_answers_through_the_app_are_the_routers(client: TestClient) -> None:
    headers = sign_up(client)
    created = client.post("/sessions", json={"title": "gateway"}, headers=headers)
    assert created.status_code == 201, created.text
    session_id = created.json()["id"]

    read = client.get(f"/sessions/{session_id}/messages", headers=headers)
    assert read.status_code == 200
    assert read.json() == {"session_id": session_id, "messages": [], "next_cursor": None}
    assert read.headers["x-request-id"]

    head = client.head(f"/sessions/{session_id}/messages", headers=headers)
    assert head.status_code == 200
    assert head.content == b""

    # An error raised by the operation, answered by the app's exception handlers.
    missing = client.get(f"/sessions/{uuid.uuid4()}/messages", headers=headers)
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "not_found"
    invalid = client.get("/sessions/not-a-uuid/messages", headers=headers)
    assert invalid.status_code == 422
    assert invalid.json()["error"]["details"]["field"] == "session_id"

    wrong_method = client.patch("/chat", json={})
    assert wrong_method.status_code == 405
    assert set(wrong_method.headers["allow"].split(", ")) == {"POST"}
    assert client.get("/no/such/path").status_code == 404
    assert client.get("/sessions//messages", headers=headers).status_code == 404
