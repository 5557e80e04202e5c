"""/openapi.json describes every route, and the live app keeps to it under generated requests."""

from __future__ import annotations

import atexit
import re
import shutil
import tempfile
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import httpx
import hypothesis
import jsonschema_rs
import msgspec
import pytest
import schemathesis
from hypothesis.configuration import set_hypothesis_home_dir
from schemathesis.checks import CheckContext, not_a_server_error
from schemathesis.core.transport import Response
from schemathesis.generation.case import Case
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    ignored_auth,
    negative_data_rejection,
    positive_data_acceptance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from service.app import create_app
from service.openapi import openapi_document
from service.routes import OPERATIONS, Operation
from service.schemas import SPACE
from service.settings import Settings
from tests.conftest import Cluster
from tests.service.conftest import app_settings, serve

# Hypothesis keeps caches under ./.hypothesis, and schemathesis already generates (coverage
# cases) while pytest collects this module: move its home out of the repo before that.
_HYPOTHESIS_HOME = tempfile.mkdtemp(prefix="hypothesis-test-openapi-")
atexit.register(shutil.rmtree, _HYPOTHESIS_HOME, ignore_errors=True)
set_hypothesis_home_dir(_HYPOTHESIS_HOME)

# The description the app serves with default limits (test_served_description_is_the_contract
# checks that the live app serves exactly this).
SCHEMA = schemathesis.openapi.from_dict(openapi_document(Settings()))

JSON = "application/json"
HTTP_METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}


@pytest.fixture(scope="module")
def settings(pg_cluster: Cluster) -> Iterator[Settings]:
    """The app's settings, over one database for the whole module.

    No limit on new anonymous users: every test here starts one, and requests sent without a
    credential (ignored_auth) start more, all from the one loopback address.
    """
    with pg_cluster.clone() as database_url:
        yield app_settings(database_url, anon_users_per_address_per_hour=0)


@pytest.fixture(scope="module")
def served(settings: Settings) -> Iterator[str]:
    """The app served over loopback (lifespan running) for the whole module: its URL."""
    with serve(create_app(settings)) as url:
        yield url


@pytest.fixture(scope="module")
def document(served: str) -> dict[str, Any]:
    response = httpx.get(f"{served}/openapi.json", timeout=30)
    assert response.status_code == 200
    assert response.headers["content-type"] == JSON
    described: dict[str, Any] = response.json()
    return described


def _resolve(document: dict[str, Any], ref: str) -> Any:
    assert ref.startswith("#/"), f"non-local $ref {ref!r}"
    node: Any = document
    for part in ref[2:].split("/"):
        part = part.replace("~1", "/").replace("~0", "~")
        assert isinstance(node, dict), f"$ref {ref!r} goes through a non-object"
        assert part in node, f"$ref {ref!r} does not resolve (no {part!r})"
        node = node[part]
    return node


def _refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                yield value
            else:
                yield from _refs(value)
    elif isinstance(node, list):
        for item in node:
            yield from _refs(item)


def _has_schema(document: dict[str, Any], media: dict[str, Any]) -> bool:
    schema = media.get("schema")
    if not isinstance(schema, dict) or not schema:
        return False
    if "$ref" in schema:
        return isinstance(_resolve(document, schema["$ref"]), dict)
    return True


def test_served_description_is_the_contract(document: dict[str, Any], settings: Settings) -> None:
    assert document == openapi_document(settings)
    assert document == SCHEMA.raw_schema
    assert document["openapi"].startswith("3.1")


def test_every_route_is_described_with_exactly_its_methods(document: dict[str, Any]) -> None:
    expected: dict[str, set[str]] = {}
    for operation in OPERATIONS:
        expected.setdefault(operation.path, set()).add(operation.method.lower())
    described = {
        path: {method for method in item if method in HTTP_METHODS}
        for path, item in document["paths"].items()
    }
    assert described == expected


@pytest.mark.parametrize(
    "operation", OPERATIONS, ids=[f"{op.method} {op.path}" for op in OPERATIONS]
)
def test_every_operation_describes_its_request_and_responses(
    document: dict[str, Any], operation: Operation
) -> None:
    described = document["paths"][operation.path][operation.method.lower()]
    assert described["summary"] == operation.summary
    assert described["operationId"]
    # The request: path parameters, query parameters, and a body when it takes one.
    parameters = {(p["in"], p["name"]): p for p in described["parameters"]}
    for name in re.findall(r"{([a-z_]+)}", operation.path):
        parameter = parameters.pop(("path", name))
        assert parameter["required"] is True
        if name in operation.keys:  # a session id or the client's own key: a string
            schema = parameter["schema"]
            assert (schema["type"], schema["minLength"], schema["maxLength"]) == ("string", 1, 255)
            assert "format" not in schema
        else:
            assert parameter["schema"] == {"type": "string", "format": "uuid"}
    if operation.query is not None or operation.paged:
        fields = (
            set()
            if operation.query is None
            else {field.name for field in msgspec.structs.fields(operation.query)}
        )
        fields |= {"limit"} if operation.paged else set()
        assert {name for (where, name) in parameters if where == "query"} == fields
        for parameter in parameters.values():
            assert parameter["schema"], parameter
        if operation.paged:
            limit = parameters[("query", "limit")]["schema"]
            assert limit["minimum"] == 1
            assert limit["maximum"] == Settings().max_page_size
    else:
        assert parameters == {}
    if operation.body is None:
        assert "requestBody" not in described
    else:
        body = described["requestBody"]
        assert body["required"] is True
        media_types = {JSON, "multipart/form-data"} if operation.form else {JSON}
        assert set(body["content"]) == media_types
        for media in body["content"].values():
            assert _has_schema(document, media)
        schema = _resolve(document, body["content"][JSON]["schema"]["$ref"])
        # Unknown fields are errors, except in OpenAI's requests: its clients send many.
        assert schema.get("additionalProperties", True) is (operation.dialect == "openai")
    # The responses: every success status with its body (or none), and the error shape.
    responses = described["responses"]
    for status, kind in operation.responses.items():
        response = responses[str(status)]
        if kind is None:
            assert "content" not in response
        else:
            media_type = "application/x-ndjson" if operation.lines and status == 200 else JSON
            assert _has_schema(document, response["content"][media_type])
    errors = {int(status) for status in responses} - set(operation.responses)
    assert {400, 422} <= errors
    for status in errors:
        assert 400 <= status < 600
        schema = responses[str(status)]["content"][JSON]["schema"]
        shape = "OpenAIErrorBody" if operation.dialect == "openai" else "ErrorBody"
        assert _resolve(document, schema["$ref"]) == document["components"]["schemas"][shape]
    if operation.auth == "required":
        assert 401 in errors
        assert described["security"] == [{"bearer": []}, {"cookie": []}]
    # A write authenticated by the cookie alone may be refused for its origin (CSRF).
    writes_with_credential = operation.auth != "none" and operation.method != "GET"
    assert (403 in errors) == writes_with_credential


def test_every_ref_resolves(document: dict[str, Any]) -> None:
    refs = set(_refs(document))
    assert refs, "the description uses components"
    for ref in refs:
        assert isinstance(_resolve(document, ref), dict), ref
    used = {ref.rsplit("/", 1)[1] for ref in refs}
    assert set(document["components"]["schemas"]) == used  # and none is left unused


@pytest.fixture
def live(served: str) -> tuple[str, dict[str, str]]:
    """The served app, and the header of a user of this test's own (one per operation)."""
    response = httpx.post(f"{served}/chat", json={"message": "hello"}, timeout=30)
    assert response.status_code == 200, response.text
    return served, {"Authorization": f"Bearer {response.json()['token']}"}


# The checks of the answers: never a 500; status, media type, headers and body as described.
CONFORMANCE = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]


def negative_json_rejection(ctx: CheckContext, response: Response, case: Case[Any]) -> bool | None:
    """negative_data_rejection, but of no multipart body. schemathesis (4.32) does not check
    that a form holding a file breaks the description (its validator cannot read the file), so
    some of its "negative" forms are valid ones, rightly taken: a title "sent as an object"
    arrives as the text "{}", a title + "*" still has no NUL. test_bad_input.py covers the
    form's rules one by one."""
    if case.media_type == "multipart/form-data":
        return None
    return negative_data_rejection(ctx, response, case)


# And the description is the server's rules, both ways: a request it allows is not refused
# for what it holds (only 401, 404, 409, 429 and 5xx), one it forbids is refused (4xx).
AGREEMENT = [positive_data_acceptance, negative_json_rejection]


@SCHEMA.parametrize()
@hypothesis.settings(
    max_examples=50,
    deadline=None,
    derandomize=True,
    database=None,
    # One user per operation, shared by that operation's examples on purpose.
    suppress_health_check=[hypothesis.HealthCheck.function_scoped_fixture],
)
def test_generated_requests_get_documented_answers_and_never_a_500(
    case: Case[Any], live: tuple[str, dict[str, str]]
) -> None:
    url, auth = live
    # ignored_auth also resends without, and with a wrong, credential: those must be 401s.
    checks = [*CONFORMANCE, *AGREEMENT, ignored_auth]
    case.call_and_validate(base_url=url, headers=auth, checks=checks)


def test_a_streamed_chat_answer_matches_its_described_events(
    live: tuple[str, dict[str, str]],
) -> None:
    """Under OpenAPI 3.1 the text/event-stream schema describes one event ({event, data})."""
    url, auth = live
    case = SCHEMA["/chat"]["POST"].Case(body={"query": "and streaming?", "stream": True})
    response = case.call_and_validate(base_url=url, headers=auth, checks=CONFORMANCE)
    assert response.status_code == 200
    assert response.headers["content-type"][0].startswith("text/event-stream")


def test_successful_answers_of_every_operation_match_the_description(
    live: tuple[str, dict[str, str]],
) -> None:
    """Generated requests rarely succeed (exactly one of message/query...): one real success each."""
    url, auth = live
    called: set[tuple[str, str]] = set()

    def call(method: str, path: str, expected: int, **data: Any) -> Any:
        if "body" in data:
            data.setdefault("media_type", JSON)
        case = SCHEMA[path][method].Case(**data)
        response = case.call_and_validate(base_url=url, headers=auth, checks=CONFORMANCE)
        assert response.status_code == expected, response.text
        called.add((method, path))
        return response.json() if response.content and expected != 204 else None

    chat = call("POST", "/chat", 200, body={"message": "what is keyset pagination?"})
    # An older client's turn: its own session key, and the text its reader selected.
    legacy = {"query": "and offsets?", "session_id": "widget-session-42", "context": "LIMIT"}
    call("POST", "/chat", 200, body=legacy)
    call("GET", "/history/{session_id}", 200, path_parameters={"session_id": "widget-session-42"})
    session = {"session_id": chat["session_id"]}
    answer = {"message_id": chat["assistant_message_id"]}
    rating = {"rating": "up", "comment": "clear"}
    call("PUT", "/messages/{message_id}/feedback", 200, path_parameters=answer, body=rating)
    call("GET", "/feedback/export", 200)  # one line: one rated answer
    call("DELETE", "/messages/{message_id}/feedback", 204, path_parameters=answer)
    again = {"client_message_id": "again"}
    call("POST", "/messages/{message_id}/regenerate", 200, path_parameters=answer, body=again)
    created = call("POST", "/sessions", 201, body={"title": "t", "metadata": {"k": [1]}})
    # Pages of one, through their cursors: the response checks hold every next_cursor to the
    # described shape, and the next request sends it back.
    page = call("GET", "/sessions", 200, query={"limit": 1})
    call("GET", "/sessions", 200, query={"limit": 1, "cursor": page["next_cursor"]})
    # Search: two questions match, in pages of one; one session's; the sessions with a match.
    found = call("GET", "/search", 200, query={"q": "keyset or offsets", "limit": 1})
    assert found["results"], found
    after = {"q": "keyset or offsets", "limit": 1, "cursor": found["next_cursor"]}
    call("GET", "/search", 200, query=after)
    call("GET", "/search", 200, query={"q": "keyset", "session_id": chat["session_id"]})
    call("GET", "/sessions", 200, query={"q": "keyset"})
    call("GET", "/sessions/{session_id}", 200, path_parameters=session)
    call("PATCH", "/sessions/{session_id}", 200, path_parameters=session, body={"title": "x"})
    page = call(
        "GET", "/sessions/{session_id}/messages", 200, path_parameters=session, query={"limit": 1}
    )
    older = {"limit": 1, "before": page["next_cursor"]}
    every = {"answers": "all"}
    call("GET", "/sessions/{session_id}/messages", 200, path_parameters=session, query=every)
    call("GET", "/history/{session_id}", 200, path_parameters=session, query=older)
    document = call("POST", "/documents", 202, body={"text": "some text"})
    call("POST", "/documents", 200, body={"text": "some text"})
    call("POST", "/documents", 202, body={"url": "https://docs.example.invalid/a"})
    call(
        "POST",
        "/documents",
        202,
        body={"file": b"file contents", "title": "a file"},
        media_type="multipart/form-data",
    )
    page = call("GET", "/documents", 200, query={"scope": "own", "limit": 1})
    call("GET", "/documents", 200, query={"limit": 1, "cursor": page["next_cursor"]})
    call("GET", "/documents", 200, query={"scope": "shared"})
    call("GET", "/documents/{document_id}", 200, path_parameters={"document_id": document["id"]})
    call("DELETE", "/documents/{document_id}", 204, path_parameters={"document_id": document["id"]})
    call("DELETE", "/sessions/{session_id}", 204, path_parameters={"session_id": created["id"]})
    call("GET", "/v1/models", 200)
    conversation: list[dict[str, Any]] = [{"role": "user", "content": "what is a cursor?"}]
    first = call(
        "POST", "/v1/chat/completions", 200, body={"model": "rag", "messages": conversation}
    )
    conversation += [
        {"role": "assistant", "content": first["choices"][0]["message"]["content"]},
        {"role": "user", "content": [{"type": "text", "text": "and a page?"}]},
    ]
    call("POST", "/v1/chat/completions", 200, body={"model": "rag", "messages": conversation})
    call("GET", "/health", 200)
    call("GET", "/ready", 200)
    call("GET", "/openapi.json", 200)
    call("GET", "/me", 200)
    call("GET", "/me/export", 200)
    call("GET", "/sessions/{session_id}/export", 200, path_parameters=session)
    exported = SCHEMA["/sessions/{session_id}/export"]["GET"].Case(
        path_parameters=session, query={"format": "md"}
    )
    as_markdown = exported.call_and_validate(base_url=url, headers=auth, checks=CONFORMANCE)
    assert as_markdown.status_code == 200
    call("POST", "/auth/logout", 204)
    # Erasure, last: of a user of its own.
    erased = httpx.post(f"{url}/chat", json={"message": "erase me"}, timeout=30).json()["token"]
    case = SCHEMA["/me"]["DELETE"].Case()
    response = case.call_and_validate(
        base_url=url, headers={"Authorization": f"Bearer {erased}"}, checks=CONFORMANCE
    )
    assert response.status_code == 204, response.text
    called.add(("DELETE", "/me"))
    assert called == {(operation.method, operation.path) for operation in OPERATIONS}


def _fits(document: dict[str, Any], schema: dict[str, Any], value: Any) -> bool:
    """Whether ``value`` is valid by ``schema``, whose $refs point into the description."""
    root = {**schema, "components": document["components"]}
    return bool(jsonschema_rs.validator_for(root, validate_formats=True).is_valid(value))


USER = {"role": "user", "content": "hi"}
ASSISTANT = {"role": "assistant", "content": "hello"}
BLANK = {"role": "user", "content": " \n"}

# Requests the server once refused while the description allowed them (or the reverse), and
# their neighbours: (method, path, JSON body or query parameters, whether the server takes it).
EDGES: list[tuple[str, str, dict[str, Any], bool]] = [
    ("POST", "/chat", {"message": "hi"}, True),
    ("POST", "/chat", {"query": "hi", "message": None}, True),
    ("POST", "/chat", {}, False),
    ("POST", "/chat", {"message": None, "query": None, "stream": True}, False),
    ("POST", "/chat", {"message": "a", "query": "b"}, False),
    ("POST", "/chat", {"message": " \u3000\x1c"}, False),  # blank, as str.strip() sees it
    ("POST", "/chat", {"message": "\ufeff"}, True),  # not space to str.strip()
    ("POST", "/chat", {"message": "a\x00b"}, False),
    ("POST", "/chat", {"message": "x" * 8_001}, False),
    ("POST", "/chat", {"message": "hi", "session_id": "widget-session-42"}, True),
    ("POST", "/chat", {"message": "hi", "session_id": "w" * 255}, True),
    ("POST", "/chat", {"message": "hi", "session_id": "ünïcode 🎈 \u00a0 / ? # %"}, True),
    ("POST", "/chat", {"message": "hi", "session_id": "w" * 256}, False),
    ("POST", "/chat", {"message": "hi", "session_id": ""}, False),
    ("POST", "/chat", {"message": "hi", "session_id": "tab\there"}, False),
    ("POST", "/chat", {"message": "hi", "session_id": "c1 control \u0085"}, False),
    ("POST", "/chat", {"message": "hi", "context": "the reader's selection"}, True),
    ("POST", "/chat", {"message": "hi", "context": ""}, True),
    ("POST", "/chat", {"message": "hi", "context": "x" * 4_000}, True),
    ("POST", "/chat", {"message": "hi", "context": "x" * 4_001}, False),
    ("POST", "/chat", {"message": "hi", "context": "a\x00b"}, False),
    ("PATCH", "/sessions/{session_id}", {}, False),
    ("PATCH", "/sessions/{session_id}", {"title": None, "metadata": None}, False),
    ("PATCH", "/sessions/{session_id}", {"metadata": {}}, True),
    ("PATCH", "/sessions/{session_id}", {"metadata": {"k": [{"deep": "a\x00"}]}}, False),
    ("PATCH", "/sessions/{session_id}", {"metadata": {"k\x00": 1}}, False),
    ("POST", "/sessions", {"metadata": {"k": [1, {"n": None, "b": True, "s": "ok"}]}}, True),
    ("POST", "/documents", {"text": "some text", "url": "https://docs.example.invalid/"}, False),
    ("POST", "/documents", {"text": "\t\n"}, False),
    ("POST", "/documents", {"url": "HTTPS://docs.example.invalid:8443/a?b#c"}, True),
    ("POST", "/documents", {"url": "https://docs.example.invalid:99999/"}, False),
    ("POST", "/documents", {"url": f"https://{'a' * 64}.example/"}, False),
    ("POST", "/documents", {"url": "ftp://docs.example.invalid/"}, False),
    ("GET", "/sessions", {"cursor": "0"}, False),
    ("GET", "/sessions", {"cursor": ""}, False),
    ("GET", "/sessions", {"cursor": f"1764633600123456.{'0' * 32}"}, True),
    ("GET", "/sessions", {"cursor": f"-99.{'f' * 32}"}, True),
    ("GET", "/sessions", {"cursor": f"1764633600123456.{'F' * 32}"}, False),
    ("GET", "/documents", {"cursor": f"99999999999999999.{'a' * 32}"}, True),
    ("GET", "/sessions/{session_id}/messages", {"before": "7"}, True),
    ("GET", "/sessions/{session_id}/messages", {"before": "0"}, False),
    ("GET", "/history/{session_id}", {"before": "999999999999999999"}, True),
    ("GET", "/history/{session_id}", {"before": "W10"}, False),
    # OpenAI's requests: the question is the last user message with text.
    ("POST", "/v1/chat/completions", {"model": "rag", "messages": [USER]}, True),
    ("POST", "/v1/chat/completions", {"model": "gpt-4o", "messages": [USER]}, False),
    ("POST", "/v1/chat/completions", {"model": "rag", "messages": [USER, ASSISTANT]}, True),
    ("POST", "/v1/chat/completions", {"model": "rag", "messages": [ASSISTANT]}, False),
    ("POST", "/v1/chat/completions", {"model": "rag", "messages": [USER, BLANK]}, True),
    ("POST", "/v1/chat/completions", {"model": "rag", "messages": [BLANK]}, False),
    ("POST", "/v1/chat/completions", {"model": "rag", "messages": [USER], "n": 2}, False),
    ("POST", "/v1/chat/completions", {"model": "rag", "messages": [USER], "max_tokens": 5.0}, True),
    (
        "POST",
        "/v1/chat/completions",
        {"model": "rag", "messages": [USER], "max_tokens": 5.5},
        False,
    ),
    ("POST", "/v1/chat/completions", {"model": "rag", "messages": [USER], "seed": 1}, True),
    (
        "POST",
        "/v1/chat/completions",
        {"model": "rag", "messages": [{"role": "user", "content": [{"type": "image_url"}]}]},
        False,
    ),
]


@pytest.fixture(scope="module")
def edge_user(served: str) -> tuple[str, dict[str, str]]:
    """A user of the edge cases' own: their session's id, and their Authorization header."""
    response = httpx.post(f"{served}/chat", json={"message": "hello"}, timeout=30)
    assert response.status_code == 200, response.text
    body = response.json()
    return body["session_id"], {"Authorization": f"Bearer {body['token']}"}


@pytest.mark.parametrize(
    ("method", "path", "data", "taken"),
    EDGES,
    ids=[f"{method} {path} {data!r:.60}" for method, path, data, _ in EDGES],
)
def test_the_description_and_the_server_agree_on_edge_cases(
    document: dict[str, Any],
    served: str,
    edge_user: tuple[str, dict[str, str]],
    method: str,
    path: str,
    data: dict[str, Any],
    taken: bool,
) -> None:
    described = document["paths"][path][method.lower()]
    if method == "GET":
        parameters = {p["name"]: p["schema"] for p in described["parameters"] if p["in"] == "query"}
        fits = all(_fits(document, parameters[name], value) for name, value in data.items())
    else:
        fits = _fits(document, described["requestBody"]["content"][JSON]["schema"], data)
    assert fits is taken, "the description does not say what the server does"
    session_id, auth = edge_user
    target = served + path.replace("{session_id}", session_id)
    response = (
        httpx.get(target, params=data, headers=auth, timeout=30)
        if method == "GET"
        else httpx.request(method, target, json=data, headers=auth, timeout=30)
    )
    assert response.is_success is taken, response.text


# Session names in the path of GET /history/{session_id}: (name, whether the server takes its
# form). A name taken is a 404 when it names none of the caller's sessions, never a 422.
HISTORY_NAMES: list[tuple[str, bool]] = [
    ("widget-session-42", True),
    ("k" * 255, True),
    ("a/b", True),  # sent as %2F
    ("ünïcode 🎈 spaced ?#%", True),
    ("k" * 256, False),
    ("tab\there", False),
    ("del\x7f", False),
]


@pytest.mark.parametrize(("name", "taken"), HISTORY_NAMES, ids=[n[:20] for n, _ in HISTORY_NAMES])
def test_the_description_and_the_server_agree_on_session_names_in_the_path(
    document: dict[str, Any],
    served: str,
    edge_user: tuple[str, dict[str, str]],
    name: str,
    taken: bool,
) -> None:
    described = document["paths"]["/history/{session_id}"]["get"]["parameters"]
    (schema,) = [p["schema"] for p in described if p["in"] == "path"]
    assert _fits(document, schema, name) is taken, "the description does not say what it takes"
    _, auth = edge_user
    url = f"{served}/history/{quote(name, safe='')}"
    response = httpx.get(url, headers=auth, timeout=30)
    assert response.status_code in ((200, 404) if taken else (422,)), response.text


def test_blank_text_is_described_as_what_str_strip_removes() -> None:
    """schemas.SPACE spells out Python's whitespace, which the endpoints strip before checking."""
    every = "".join(map(chr, range(0x110000)))
    assert re.findall(f"[{SPACE}]", every) == [c for c in every if c.isspace()]
