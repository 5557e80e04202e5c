"""Bad input gets a 4xx that names what is wrong, in the one error shape; never a 500."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from starlette.testclient import TestClient

from service.app import create_app
from service.routes import OPERATIONS
from tests.conftest import Cluster
from tests.service.conftest import app_settings, sign_up

Headers = dict[str, str]

# Validation happens before any lookup, so ids of objects that do not exist will do.
SID = "5f0c2a8e-6b4f-4a57-9d0e-3f6c2a8b7e51"
DID = "0d9e6a41-2c7b-4f3e-8a15-7b6c5d4e3f21"
SESSION = f"/sessions/{SID}"
MESSAGES = f"/sessions/{SID}/messages"
HISTORY = f"/history/{SID}"
DOCUMENT = f"/documents/{DID}"
NUL = "a\x00b"
# Every JSON body, by name: (method, path).
JSON_BODIES = {
    "chat": ("POST", "/chat"),
    "create-session": ("POST", "/sessions"),
    "edit-session": ("PATCH", SESSION),
    "create-document": ("POST", "/documents"),
}
# Every listing, by name: (path, its cursor parameter).
LISTINGS = {
    "sessions": ("/sessions", "cursor"),
    "documents": ("/documents", "cursor"),
    "messages": (MESSAGES, "before"),
    "history": (HISTORY, "before"),
}


# Cursors of the store's shape (store/cursors.py: microseconds since the epoch and a UUID's
# hex digits joined by ".", or a sequence number) holding positions PostgreSQL cannot take:
# a time in year 1, a sequence number past bigint.
YEAR_1 = -62_135_596_800_000_000  # microseconds since the epoch
OUT_OF_RANGE = {
    "sessions": f"{YEAR_1}.{uuid.UUID(SID).hex}",
    "documents": f"{YEAR_1}.{uuid.UUID(DID).hex}",
    "messages": str(2**63),
    "history": str(2**63),
}
# A cursor of the other listings' shape.
OTHER_SHAPE = {
    "sessions": "42",
    "documents": "42",
    "messages": OUT_OF_RANGE["sessions"].replace(str(YEAR_1), "1764633600123456"),
    "history": OUT_OF_RANGE["sessions"].replace(str(YEAR_1), "1764633600123456"),
}


@dataclass(frozen=True)
class Bad:
    """One bad request: what is sent, the status it must get, a name the message must say."""

    id: str
    method: str
    path: str
    status: int
    names: str | None
    kwargs: dict[str, Any] = field(default_factory=dict)
    content_type: str | None = None


def body(id: str, method: str, path: str, payload: Any, status: int, names: str | None) -> Bad:
    return Bad(id, method, path, status, names, {"json": payload})


def raw(
    id: str,
    method: str,
    path: str,
    content: bytes,
    status: int,
    names: str | None,
    content_type: str = "application/json",
) -> Bad:
    return Bad(id, method, path, status, names, {"content": content}, content_type)


def query(id: str, path: str, params: dict[str, str], status: int, names: str | None) -> Bad:
    return Bad(id, "GET", path, status, names, {"params": params})


Part = tuple[str, str | None, bytes]  # name, filename (None: a text field), content


def multipart(parts: list[Part], boundary: str = "testboundary") -> tuple[bytes, str]:
    """A multipart/form-data body built by hand, so any part can be sent as it is."""
    encoded = b""
    for name, filename, content in parts:
        disposition = f'form-data; name="{name}"'
        if filename is not None:
            disposition += f'; filename="{filename}"'
        encoded += f"--{boundary}\r\nContent-Disposition: {disposition}\r\n".encode()
        if filename is not None:
            encoded += b"Content-Type: text/plain\r\n"
        encoded += b"\r\n" + content + b"\r\n"
    encoded += f"--{boundary}--\r\n".encode()
    return encoded, f"multipart/form-data; boundary={boundary}"


def form(id: str, parts: list[Part], status: int, names: str | None) -> Bad:
    content, content_type = multipart(parts)
    return raw(id, "POST", "/documents", content, status, names, content_type)


FILE: Part = ("file", "a.txt", b"x")
# JSON nested deeper than a decoder can recurse (about a thousand levels here).
DEEP = b"[" * 5_000 + b"]" * 5_000

BAD: list[Bad] = [
    # Malformed bodies: 400, the body named.
    *[raw(f"broken-json-{name}", m, p, b'{"', 400, "body") for name, (m, p) in JSON_BODIES.items()],
    *[raw(f"empty-body-{name}", m, p, b"", 400, "body") for name, (m, p) in JSON_BODIES.items()],
    raw("whitespace-only-body", "POST", "/sessions", b" \r\n\t ", 400, "body"),
    raw("single-quoted-json", "POST", "/sessions", b"{'title': 'x'}", 400, "body"),
    raw("not-json-at-all", "POST", "/chat", b"hello", 400, "body"),
    raw("trailing-garbage", "POST", "/chat", b'{"message": "x"} x', 400, "body"),
    raw("lone-surrogate", "POST", "/chat", b'{"message": "a\\ud800b"}', 400, "body"),
    raw("invalid-utf8-title", "POST", "/sessions", b'{"title": "\xff\xfe"}', 400, "body"),
    raw("invalid-utf8-message", "POST", "/chat", b'{"message": "caf\xe9"}', 400, "body"),
    raw(
        "deep-session-metadata",
        "POST",
        "/sessions",
        b'{"metadata": {"a": ' + DEEP + b"}}",
        400,
        "body",
    ),
    raw(
        "deep-edited-metadata", "PATCH", SESSION, b'{"metadata": {"a": ' + DEEP + b"}}", 400, "body"
    ),
    raw(
        "deep-document-metadata",
        "POST",
        "/documents",
        b'{"text": "x", "metadata": {"a": ' + DEEP + b"}}",
        400,
        "body",
    ),
    # A JSON value that is not an object: 422, the body named.
    body("array-body", "POST", "/chat", [{"message": "x"}], 422, "body"),
    body("string-body", "POST", "/sessions", "title", 422, "body"),
    body("number-body", "PATCH", SESSION, 5, 422, "body"),
    raw("null-body", "POST", "/documents", b"null", 422, "body"),
    raw("deep-array-body", "POST", "/chat", DEEP, 422, "body"),
    # Wrong types: 422 naming the field.
    body("message-int", "POST", "/chat", {"message": 5}, 422, "message"),
    body("query-list", "POST", "/chat", {"query": ["x"]}, 422, "query"),
    body("stream-string", "POST", "/chat", {"message": "x", "stream": "yes"}, 422, "stream"),
    body("stream-int", "POST", "/chat", {"message": "x", "stream": 1}, 422, "stream"),
    body("session-id-int", "POST", "/chat", {"message": "x", "session_id": 12}, 422, "session_id"),
    body(
        "client-message-id-int",
        "POST",
        "/chat",
        {"message": "x", "client_message_id": 5},
        422,
        "client_message_id",
    ),
    body("title-int", "POST", "/sessions", {"title": 5}, 422, "title"),
    body("metadata-string", "POST", "/sessions", {"metadata": "x"}, 422, "metadata"),
    body("metadata-array", "PATCH", SESSION, {"metadata": [1]}, 422, "metadata"),
    body("text-int", "POST", "/documents", {"text": 5}, 422, "text"),
    body("url-object", "POST", "/documents", {"url": {}}, 422, "url"),
    body(
        "document-metadata-bool",
        "POST",
        "/documents",
        {"text": "x", "metadata": True},
        422,
        "metadata",
    ),
    raw("number-out-of-range", "POST", "/sessions", b'{"metadata": {"a": 1e400}}', 422, "metadata"),
    # Unknown fields in every JSON body: 422 naming the field.
    body(
        "unknown-field-chat", "POST", "/chat", {"message": "x", "sessionId": SID}, 422, "sessionId"
    ),
    body("unknown-field-create-session", "POST", "/sessions", {"name": "x"}, 422, "name"),
    body("unknown-field-edit-session", "PATCH", SESSION, {"titel": "x"}, 422, "titel"),
    body(
        "unknown-field-create-document",
        "POST",
        "/documents",
        {"text": "x", "tags": []},
        422,
        "tags",
    ),
    # Lengths: 422 naming the field.
    body("message-too-long", "POST", "/chat", {"message": "x" * 8_001}, 422, "message"),
    body("legacy-query-too-long", "POST", "/chat", {"query": "é" * 8_001}, 422, "query"),
    body(
        "client-message-id-too-long",
        "POST",
        "/chat",
        {"message": "x", "client_message_id": "c" * 201},
        422,
        "client_message_id",
    ),
    body("session-title-too-long", "POST", "/sessions", {"title": "t" * 201}, 422, "title"),
    body("edited-title-too-long", "PATCH", SESSION, {"title": "t" * 201}, 422, "title"),
    body(
        "document-title-too-long",
        "POST",
        "/documents",
        {"text": "x", "title": "t" * 201},
        422,
        "title",
    ),
    body("empty-title", "POST", "/sessions", {"title": ""}, 422, "title"),
    body("url-too-long", "POST", "/documents", {"url": "https://e.com/" + "a" * 2048}, 422, "url"),
    # Exactly one of message/query, of text/url; nothing blank.
    body("neither-message-nor-query", "POST", "/chat", {"stream": False}, 422, "message"),
    body("empty-chat-object", "POST", "/chat", {}, 422, "message"),
    body("both-message-and-query", "POST", "/chat", {"message": "a", "query": "b"}, 422, "message"),
    body(
        "null-message-and-query", "POST", "/chat", {"message": None, "query": None}, 422, "message"
    ),
    body("blank-message", "POST", "/chat", {"message": " \n\t"}, 422, "message"),
    body("empty-query", "POST", "/chat", {"query": ""}, 422, "query"),
    body("neither-text-nor-url", "POST", "/documents", {"title": "t"}, 422, "text"),
    body(
        "both-text-and-url",
        "POST",
        "/documents",
        {"text": "a", "url": "https://e.com"},
        422,
        "text",
    ),
    body("blank-text", "POST", "/documents", {"text": "   "}, 422, "text"),
    *[
        body(f"url-{name}", "POST", "/documents", {"url": url}, 422, "url")
        for name, url in [
            ("ftp", "ftp://example.com/file"),
            ("file", "file:///etc/passwd"),
            ("javascript", "javascript:alert(1)"),
            ("relative", "/docs/page"),
            ("no-host", "http://"),
            ("no-scheme", "example.com/page"),
            ("broken-ipv6", "http://[::1"),
            ("blank", " "),
        ]
    ],
    # An edit with nothing to change.
    body("edit-nothing", "PATCH", SESSION, {}, 422, "title"),
    body("edit-only-nulls", "PATCH", SESSION, {"title": None, "metadata": None}, 422, "title"),
    # NUL characters, which PostgreSQL cannot store: 422 naming the field.
    body("nul-in-message", "POST", "/chat", {"message": NUL}, 422, "message"),
    body("nul-in-legacy-query", "POST", "/chat", {"query": NUL}, 422, "query"),
    body(
        "nul-in-client-message-id",
        "POST",
        "/chat",
        {"message": "x", "client_message_id": NUL},
        422,
        "client_message_id",
    ),
    body("nul-in-session-title", "POST", "/sessions", {"title": NUL}, 422, "title"),
    body("nul-in-edited-title", "PATCH", SESSION, {"title": NUL}, 422, "title"),
    body("nul-in-metadata-value", "POST", "/sessions", {"metadata": {"k": NUL}}, 422, "metadata"),
    body(
        "nul-in-nested-metadata-value",
        "PATCH",
        SESSION,
        {"metadata": {"k": [{"j": NUL}]}},
        422,
        "metadata",
    ),
    body("nul-in-metadata-key", "POST", "/sessions", {"metadata": {NUL: 1}}, 422, "metadata"),
    body(
        "nul-in-nested-metadata-key",
        "POST",
        "/sessions",
        {"metadata": {"k": {NUL: 1}}},
        422,
        "metadata",
    ),
    body("nul-in-document-text", "POST", "/documents", {"text": NUL}, 422, "text"),
    body("nul-in-document-title", "POST", "/documents", {"text": "x", "title": NUL}, 422, "title"),
    body("nul-in-document-url", "POST", "/documents", {"url": "https://e.com/" + NUL}, 422, "url"),
    body(
        "nul-in-document-metadata-key",
        "POST",
        "/documents",
        {"text": "x", "metadata": {NUL: "v"}},
        422,
        "metadata",
    ),
    *[
        query(f"nul-in-{name}-{param}", path, {param: NUL}, 422, param)
        for name, (path, param) in LISTINGS.items()
    ],
    # Page sizes: 422 naming limit.
    *[
        query(f"limit-{label}-{name}", path, {"limit": value}, 422, "limit")
        for name, (path, _) in LISTINGS.items()
        for label, value in [("0", "0"), ("above-max", "101"), ("abc", "abc")]
    ],
    query("limit-negative", "/sessions", {"limit": "-1"}, 422, "limit"),
    query("limit-fraction", "/documents", {"limit": "1.5"}, 422, "limit"),
    query("limit-empty", MESSAGES, {"limit": ""}, 422, "limit"),
    query("limit-huge", "/sessions", {"limit": "9" * 30}, 422, "limit"),
    query("limit-null", "/sessions", {"limit": "null"}, 422, "limit"),
    query("scope-unknown", "/documents", {"scope": "everyone"}, 422, "scope"),
    # Cursors the store did not write: 422 naming the parameter.
    *[
        query(f"{param}-{label}-{name}", path, {param: value}, 422, param)
        for name, (path, param) in LISTINGS.items()
        for label, value in [
            ("garbage", "abc"),
            ("punctuation", "!!!"),
            ("empty-field", "."),
            ("zero", "0"),
            ("other-shape", OTHER_SHAPE[name]),
            ("out-of-range", OUT_OF_RANGE[name]),
        ]
    ],
    query("empty-cursor", "/sessions", {"cursor": ""}, 422, "cursor"),
    query("cursor-too-long", "/documents", {"cursor": "A" * 501}, 422, "cursor"),
    # Unknown query parameters: 422 naming them.
    query("unknown-param-sessions", "/sessions", {"page": "2"}, 422, "page"),
    query("unknown-param-documents", "/documents", {"offset": "10"}, 422, "offset"),
    query("unknown-param-messages", MESSAGES, {"after": "x"}, 422, "after"),
    query("unknown-param-history-cursor", HISTORY, {"cursor": "x"}, 422, "cursor"),
    query("unknown-param-read-session", SESSION, {"fields": "title"}, 422, "fields"),
    query("unknown-param-read-document", DOCUMENT, {"expand": "1"}, 422, "expand"),
    Bad(
        "unknown-param-chat",
        "POST",
        "/chat",
        422,
        "stream",
        {"params": {"stream": "true"}, "json": {"message": "x"}},
    ),
    Bad(
        "unknown-param-delete-document",
        "DELETE",
        DOCUMENT,
        422,
        "force",
        {"params": {"force": "1"}},
    ),
    # Invalid UUIDs, in every path parameter and in the body: 422 naming them.
    Bad("bad-uuid-read-session", "GET", "/sessions/not-a-uuid", 422, "session_id"),
    Bad(
        "bad-uuid-edit-session",
        "PATCH",
        "/sessions/not-a-uuid",
        422,
        "session_id",
        {"json": {"title": "x"}},
    ),
    Bad("bad-uuid-delete-session", "DELETE", "/sessions/not-a-uuid", 422, "session_id"),
    Bad("bad-uuid-messages", "GET", "/sessions/1234/messages", 422, "session_id"),
    # A session name (GET /history, /chat's session_id): any string of 1..255 characters
    # without control characters; the ones that are not one of the caller's ids are keys.
    Bad("control-character-history", "GET", "/history/a%01b", 422, "session_id"),
    Bad("long-name-history", "GET", f"/history/{'k' * 256}", 422, "session_id"),
    Bad("bad-uuid-read-document", "GET", "/documents/%00", 422, "document_id"),
    Bad(
        "bad-uuid-delete-document",
        "DELETE",
        "/documents/zzzzzzzz-zzzz-zzzz-zzzz-zzzzzzzzzzzz",
        422,
        "document_id",
    ),
    body(
        "control-character-chat-session-id",
        "POST",
        "/chat",
        {"message": "x", "session_id": "widget\u0085session"},
        422,
        "session_id",
    ),
    body(
        "long-chat-session-id",
        "POST",
        "/chat",
        {"message": "x", "session_id": "k" * 256},
        422,
        "session_id",
    ),
    body(
        "empty-chat-session-id",
        "POST",
        "/chat",
        {"message": "x", "session_id": ""},
        422,
        "session_id",
    ),
    body(
        "long-chat-context",
        "POST",
        "/chat",
        {"message": "x", "context": "c" * 4_001},
        422,
        "context",
    ),
    # Media types: 415 for anything but JSON (and multipart on /documents).
    *[
        raw(f"text-plain-{name}", m, p, b'{"title": "x"}', 415, "application/json", "text/plain")
        for name, (m, p) in JSON_BODIES.items()
    ],
    raw(
        "form-urlencoded-chat",
        "POST",
        "/chat",
        b"message=x",
        415,
        "application/json",
        "application/x-www-form-urlencoded",
    ),
    raw(
        "multipart-session",
        "POST",
        "/sessions",
        b"--b--\r\n",
        415,
        "application/json",
        "multipart/form-data; boundary=b",
    ),
    raw(
        "multipart-without-boundary",
        "POST",
        "/documents",
        b"x",
        400,
        "boundary",
        "multipart/form-data",
    ),
    # Multipart uploads: 422 naming the form field.
    form("form-without-file", [("title", None, b"t")], 422, "file"),
    form("form-without-parts", [], 422, "file"),
    form("form-file-as-text-field", [("file", None, b"not a file")], 422, "file"),
    form("form-unknown-field", [FILE, ("tags", None, b"t")], 422, "tags"),
    form("form-unknown-file-field", [("upload", "a.txt", b"x")], 422, "upload"),
    form("form-empty-file", [("file", "a.txt", b"")], 422, "file"),
    form("form-title-too-long", [FILE, ("title", None, b"t" * 201)], 422, "title"),
    form("form-empty-title", [FILE, ("title", None, b"")], 422, "title"),
    form("form-nul-in-title", [FILE, ("title", None, b"a\x00b")], 422, "title"),
    form("form-nul-in-filename", [("file", "a\x00.txt", b"x")], 422, "file"),
    form("form-metadata-not-json", [FILE, ("metadata", None, b"{")], 422, "metadata"),
    form("form-metadata-not-object", [FILE, ("metadata", None, b"[1]")], 422, "metadata"),
    form("form-metadata-nul", [FILE, ("metadata", None, b'{"k": "a\\u0000b"}')], 422, "metadata"),
    form("form-metadata-nul-key", [FILE, ("metadata", None, b'{"a\\u0000b": 1}')], 422, "metadata"),
    form(
        "form-metadata-deep", [FILE, ("metadata", None, b'{"a": ' + DEEP + b"}")], 422, "metadata"
    ),
]


def _mentions(message: str, name: str) -> bool:
    return re.search(rf"(?<![A-Za-z0-9_]){re.escape(name)}(?![A-Za-z0-9_])", message) is not None


def assert_error(response: Any, status: int, names: str | None = None) -> dict[str, Any]:
    """The status, the error shape ({"error": {"code", "message", "details"?}}), the name."""
    assert response.status_code != 500, response.text
    assert response.status_code == status, f"{response.status_code}: {response.text}"
    assert response.headers["content-type"] == "application/json", response.headers
    payload = response.json()
    assert isinstance(payload, dict)
    assert set(payload) == {"error"}, payload
    error: dict[str, Any] = payload["error"]
    assert {"code", "message"} <= set(error) <= {"code", "message", "details"}, error
    assert isinstance(error["code"], str)
    assert re.fullmatch(r"[a-z_]+", error["code"]), error
    assert isinstance(error["message"], str)
    assert error["message"]
    assert isinstance(error.get("details", {}), dict), error
    if names is not None:
        assert _mentions(error["message"], names), f"{names!r} not named in {error['message']!r}"
    return error


@pytest.fixture(scope="module")
def shared(pg_cluster: Cluster) -> Iterator[tuple[TestClient, Headers]]:
    """One app over one migrated database for this module's many rejected requests, and a user.

    The cases are rejected before they change anything, so they need no database of their
    own; sharing one keeps a table of about two hundred cases to seconds.
    """
    with (
        pg_cluster.clone() as database_url,
        TestClient(create_app(app_settings(database_url)), raise_server_exceptions=False) as client,
    ):
        yield client, sign_up(client)


@pytest.mark.parametrize("bad", [pytest.param(bad, id=bad.id) for bad in BAD])
def test_bad_input_gets_a_4xx_naming_the_field(
    shared: tuple[TestClient, Headers], bad: Bad
) -> None:
    client, auth = shared
    headers = auth if bad.content_type is None else auth | {"Content-Type": bad.content_type}
    response = client.request(bad.method, bad.path, headers=headers, **bad.kwargs)
    assert_error(response, bad.status, bad.names)


# --- body size limits -------------------------------------------------------------------------

BODY_LIMIT = 1_000
UPLOAD_LIMIT = 4_000
MESSAGE_LIMIT = 50


@pytest.fixture
def small(database_url: str) -> Iterator[TestClient]:
    """An app with small limits, so over-limit bodies stay small."""
    settings = app_settings(
        database_url,
        max_body_bytes=BODY_LIMIT,
        max_upload_bytes=UPLOAD_LIMIT,
        max_message_chars=MESSAGE_LIMIT,
    )
    with TestClient(create_app(settings), raise_server_exceptions=False) as test_client:
        yield test_client


def _padded(size: int) -> bytes:
    """A JSON session body of exactly ``size`` bytes."""
    empty = b'{"title": "t", "metadata": {"pad": ""}}'
    padded = empty[:-3] + b"x" * (size - len(empty)) + empty[-3:]
    assert len(padded) == size
    return padded


def _chunks(content: bytes, size: int = 300) -> Iterator[bytes]:
    """The body as a stream: sent chunked, without Content-Length."""
    for start in range(0, len(content), size):
        yield content[start : start + size]


@pytest.mark.parametrize("streamed", [False, True], ids=["content-length", "chunked"])
@pytest.mark.parametrize(
    ("method", "path"),
    [("POST", "/chat"), ("POST", "/sessions"), ("PATCH", f"/sessions/{SID}")],
)
def test_a_body_over_max_body_bytes_is_a_413(
    small: TestClient, method: str, path: str, streamed: bool
) -> None:
    auth = sign_up(small)
    content = _padded(BODY_LIMIT + 1)
    headers = auth | {"Content-Type": "application/json"}
    response = small.request(
        method, path, content=_chunks(content) if streamed else content, headers=headers
    )
    error = assert_error(response, 413, "body")
    assert error["code"] == "payload_too_large"
    assert error["details"] == {"limit": BODY_LIMIT}
    assert str(BODY_LIMIT) in error["message"]


@pytest.mark.parametrize("streamed", [False, True], ids=["content-length", "chunked"])
def test_a_body_of_exactly_max_body_bytes_is_accepted(small: TestClient, streamed: bool) -> None:
    auth = sign_up(small)
    content = _padded(BODY_LIMIT)
    headers = auth | {"Content-Type": "application/json"}
    response = small.post(
        "/sessions", content=_chunks(content) if streamed else content, headers=headers
    )
    assert response.status_code == 201, response.text


@pytest.mark.parametrize("streamed", [False, True], ids=["content-length", "chunked"])
@pytest.mark.parametrize("kind", ["json", "multipart"])
def test_an_upload_over_max_upload_bytes_is_a_413(
    small: TestClient, kind: str, streamed: bool
) -> None:
    auth = sign_up(small)
    if kind == "json":
        content, content_type = (
            json.dumps({"text": "x" * UPLOAD_LIMIT}).encode(),
            "application/json",
        )
    else:
        content, content_type = multipart([("file", "big.txt", b"x" * UPLOAD_LIMIT)])
    assert len(content) > UPLOAD_LIMIT
    response = small.post(
        "/documents",
        content=_chunks(content) if streamed else content,
        headers=auth | {"Content-Type": content_type},
    )
    error = assert_error(response, 413, "body")
    assert error["details"] == {"limit": UPLOAD_LIMIT}
    assert small.get("/documents", headers=auth).json()["documents"] == []


@pytest.mark.parametrize("kind", ["json", "multipart"])
def test_an_upload_over_max_body_bytes_but_within_max_upload_bytes_is_accepted(
    small: TestClient, kind: str
) -> None:
    auth = sign_up(small)
    size = (BODY_LIMIT + UPLOAD_LIMIT) // 2
    if kind == "json":
        response = small.post("/documents", json={"text": "y" * size}, headers=auth)
    else:
        response = small.post("/documents", files={"file": ("a.txt", b"y" * size)}, headers=auth)
    assert response.status_code == 202, response.text
    assert response.json()["byte_size"] == size


def test_a_message_of_exactly_max_message_chars_is_accepted_and_one_more_is_a_422(
    small: TestClient,
) -> None:
    auth = sign_up(small)
    accepted = small.post("/chat", json={"message": "é" * MESSAGE_LIMIT}, headers=auth)
    assert accepted.status_code == 200, accepted.text
    rejected = small.post("/chat", json={"message": "é" * (MESSAGE_LIMIT + 1)}, headers=auth)
    error = assert_error(rejected, 422, "message")
    assert str(MESSAGE_LIMIT) in error["message"]


# --- methods, authentication --------------------------------------------------------------

# Each path's methods, as the route table declares them.
ALLOWED: dict[str, set[str]] = {}
for _operation in OPERATIONS:
    ALLOWED.setdefault(_operation.path, set()).add(_operation.method)
UNSUPPORTED = [
    ("PUT", "/sessions"),
    ("DELETE", "/sessions"),
    ("POST", "/sessions/{session_id}"),
    ("PUT", "/sessions/{session_id}"),
    ("PATCH", "/documents"),
    ("PUT", "/documents/{document_id}"),
    ("GET", "/chat"),
    ("DELETE", "/sessions/{session_id}/messages"),
    ("POST", "/health"),
    ("GET", "/auth/logout"),
]


@pytest.mark.parametrize(
    ("method", "template"), UNSUPPORTED, ids=[f"{m} {t}" for m, t in UNSUPPORTED]
)
def test_an_unsupported_method_is_a_json_405_listing_the_allowed_ones(
    shared: tuple[TestClient, Headers], method: str, template: str
) -> None:
    client, auth = shared
    path = template.format(session_id=SID, document_id=DID)
    response = client.request(method, path, headers=auth)
    error = assert_error(response, 405)
    assert error["code"] == "method_not_allowed"
    allowed = {item.strip() for item in response.headers["allow"].split(",")}
    assert allowed - {"HEAD"} == ALLOWED[template]  # every method of the path, not one route's


@pytest.mark.parametrize(
    "authorization", ["Basic dXNlcjpwYXNz", "Bearer", "Bearer not-a-token", "Bearer " + "t" * 300]
)
def test_a_bad_credential_is_a_json_401(
    shared: tuple[TestClient, Headers], authorization: str
) -> None:
    client, _ = shared
    response = client.get("/sessions", headers={"Authorization": authorization})
    assert_error(response, 401)
    assert response.headers["www-authenticate"] == "Bearer"


def test_an_unknown_path_is_a_json_404(shared: tuple[TestClient, Headers]) -> None:
    client, auth = shared
    assert_error(client.get("/no/such/route", headers=auth), 404)
