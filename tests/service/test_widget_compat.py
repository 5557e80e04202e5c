"""Existing chat widgets keep working: they run on another site (CORS, credentials), choose
their own string session ids, send the legacy body (``query``, ``context``) and read
``GET /history/{session_id}`` in the legacy shape; when the operator allows it
(LEGACY_TOKENLESS_SESSIONS), without any credential at all.

The requests are the ones such a client sends, over httpx (the TestClient) with the Origin
header a browser adds; tests/browser/test_widget_cross_origin.py replays them in a browser.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from starlette.testclient import TestClient

from service.app import create_app
from service.openapi import openapi_document
from service.settings import BadValue, Settings, load_settings
from tests.rag.conftest import wait_for_document
from tests.service.conftest import app_settings, sign_up
from tests.service.test_chat import ExplodingAnswerer
from tests.service.test_limits import assert_rate_limited, wait_for_a_fresh_window

WIDGET = "https://docs.example.org"  # the site the widget is embedded in
EVIL = "https://evil.example"
KEY = "widget-session-42"  # as the seed's clients make them: 17 characters, not a UUID
NOT_FOUND = "I could not find this in the documents."

Headers = dict[str, str]


@contextmanager
def widget_app(database_url: str, **overrides: Any) -> Iterator[TestClient]:
    """The app, configured for a widget on WIDGET (and whatever ``overrides`` say); its
    ingestion worker polls every 0.1 s."""
    values: dict[str, Any] = {"allowed_origins": WIDGET, "ingest_poll_seconds": 0.1}
    settings = app_settings(database_url, **(values | overrides))
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        yield client


@pytest.fixture
def client(database_url: str) -> Iterator[TestClient]:
    """Token-less sessions off: the default."""
    with widget_app(database_url) as client:
        yield client


@pytest.fixture
def tokenless(database_url: str) -> Iterator[TestClient]:
    """LEGACY_TOKENLESS_SESSIONS on, with its default minimum key length (16)."""
    with widget_app(database_url, legacy_tokenless_sessions=True) as app:
        yield app


def chat(client: TestClient, headers: Headers | None = None, **body: Any) -> Any:
    return client.post("/chat", json=body, headers={"Origin": WIDGET, **(headers or {})})


def history(client: TestClient, name: str, headers: Headers | None = None) -> Any:
    return client.get(
        f"/history/{name}", params={"limit": 50}, headers={"Origin": WIDGET, **(headers or {})}
    )


def contents(response: Any) -> list[str]:
    assert response.status_code == 200, response.text
    return [message["content"] for message in response.json()["messages"]]


# --- CORS ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "method"), [("/chat", "POST"), (f"/history/{KEY}", "GET"), ("/sessions", "GET")]
)
def test_a_preflight_from_an_allowed_origin_is_answered_for_credentialed_calls(
    client: TestClient, path: str, method: str
) -> None:
    response = client.options(
        path,
        headers={
            "Origin": WIDGET,
            "Access-Control-Request-Method": method,
            "Access-Control-Request-Headers": "content-type, authorization",
        },
    )

    assert response.status_code == 200, response.text
    assert response.headers["access-control-allow-origin"] == WIDGET
    assert response.headers["access-control-allow-credentials"] == "true"
    assert method in response.headers["access-control-allow-methods"]
    allowed = response.headers["access-control-allow-headers"].lower()
    assert "content-type" in allowed
    assert "authorization" in allowed
    assert "origin" in response.headers["vary"].lower()


def test_a_preflight_from_any_other_origin_is_refused_without_cors_headers(
    client: TestClient,
) -> None:
    response = client.options(
        "/chat",
        headers={
            "Origin": EVIL,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type",
        },
    )

    assert response.status_code == 400
    assert "access-control-allow-origin" not in response.headers  # the browser stops here


def test_credentialed_cross_origin_calls_name_the_origin_never_a_star(
    client: TestClient,
) -> None:
    """A widget calling with ``credentials: "include"``: the browser keeps the cookie it is
    given, sends it back, and reads the answers only because they name its origin."""
    first = chat(client, query="hello from the widget")
    assert first.status_code == 200, first.text
    assert "chat_token" in client.cookies

    turn = chat(client, query="and with my key?", session_id=KEY)  # the cookie alone
    read = history(client, KEY)

    for response in (first, turn, read):
        assert response.status_code == 200, response.text
        assert response.headers["access-control-allow-origin"] == WIDGET
        assert response.headers["access-control-allow-credentials"] == "true"
        assert "x-request-id" in response.headers["access-control-expose-headers"].lower()
        assert "origin" in response.headers["vary"].lower()
    assert contents(read)[0] == "and with my key?"


def test_a_cookie_write_from_an_unlisted_origin_is_refused_and_unreadable(
    client: TestClient,
) -> None:
    assert chat(client, query="hello").status_code == 200  # the browser holds the cookie

    response = client.post(
        "/chat", json={"query": "planted", "session_id": KEY}, headers={"Origin": EVIL}
    )

    assert response.status_code == 403, response.text
    assert response.json()["error"]["code"] == "origin_not_allowed"
    assert "access-control-allow-origin" not in response.headers


def test_errors_are_readable_cross_origin_too(client: TestClient) -> None:
    response = chat(client, query="x" * 9_000, session_id=KEY)

    assert response.status_code == 422
    assert response.headers["access-control-allow-origin"] == WIDGET


def test_without_allowed_origins_no_cross_origin_call_is_allowed(database_url: str) -> None:
    with TestClient(create_app(app_settings(database_url))) as client:
        preflight = client.options(
            "/chat", headers={"Origin": WIDGET, "Access-Control-Request-Method": "POST"}
        )
        answer = chat(client, query="hello")

    assert preflight.status_code == 405
    for response in (preflight, answer):
        assert "access-control-allow-origin" not in response.headers


# --- the cookie for a widget on another site ----------------------------------------------------


def test_the_cookie_is_samesite_none_and_secure_when_configured(database_url: str) -> None:
    settings = app_settings(database_url, cookie_samesite="None", cookie_secure=True)
    with TestClient(create_app(settings)) as client:
        response = chat(client, query="hello")

    assert response.status_code == 200, response.text
    cookie = response.headers["set-cookie"].lower()
    assert "samesite=none" in cookie
    assert "secure" in cookie
    assert "httponly" in cookie


def test_the_cookie_is_samesite_lax_by_default(client: TestClient) -> None:
    response = chat(client, query="hello")

    assert "samesite=lax" in response.headers["set-cookie"].lower()


@pytest.mark.parametrize(
    ("environ", "variable"),
    [
        ({"COOKIE_SAMESITE": "none"}, "COOKIE_SAMESITE"),  # browsers drop it without Secure
        ({"COOKIE_SAMESITE": "sometimes"}, "COOKIE_SAMESITE"),
        ({"LEGACY_TOKENLESS_SESSIONS": "true", "ANONYMOUS_ACCESS": "false"}, "LEGACY_TOKENLESS"),
        ({"LEGACY_TOKENLESS_MIN_KEY_CHARS": "4"}, "LEGACY_TOKENLESS_MIN_KEY_CHARS"),
    ],
)
def test_a_cookie_or_token_less_setting_browsers_or_the_service_cannot_honour_is_one_line(
    environ: dict[str, str], variable: str
) -> None:
    with pytest.raises(BadValue) as raised:
        load_settings(environ, env_file=None)

    message = str(raised.value)
    assert message.startswith(variable)
    assert "\n" not in message


def test_samesite_none_with_secure_is_accepted() -> None:
    settings = load_settings({"COOKIE_SAMESITE": "None", "COOKIE_SECURE": "true"}, env_file=None)

    assert settings.cookie_same_site() == "none"


# --- client-chosen session keys -------------------------------------------------------------


def test_a_string_session_id_starts_a_session_that_later_turns_continue(
    client: TestClient,
) -> None:
    headers = sign_up(client)

    first = chat(client, headers, query="first question", session_id=KEY)
    second = chat(client, headers, query="second question", session_id=KEY)

    for response in (first, second):
        assert response.status_code == 200, response.text
        assert response.json()["session_id"] == KEY  # as the client sent it
    read = history(client, KEY, headers)
    assert contents(read) == [
        "first question",
        first.json()["answer"],
        "second question",
        second.json()["answer"],
    ]
    # One session, recorded under the key; the native API knows it by its id.
    (session_id,) = {message["session_id"] for message in read.json()["messages"]}
    native = client.get(f"/sessions/{session_id}/messages", headers=headers)
    assert contents(native) == contents(read)


def test_history_has_the_legacy_shape_with_todays_fields(client: TestClient) -> None:
    headers = sign_up(client)
    chat(client, headers, query="what is a lighthouse?", session_id=KEY)

    response = history(client, KEY, headers)

    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"session_id", "messages", "next_cursor"}
    assert body["session_id"] == KEY
    assert [m["role"] for m in body["messages"]] == ["user", "assistant"]
    for message in body["messages"]:
        # The seed's fields...
        assert {"role", "content", "sources", "confidence", "timestamp"} <= set(message)
        assert message["timestamp"] == message["created_at"]
        # ...and everything GET /sessions/{id}/messages says.
        assert {"id", "session_id", "seq", "status", "metadata", "created_at"} <= set(message)
    assert isinstance(body["messages"][1]["sources"], list)


def test_a_key_that_started_no_session_is_not_found(client: TestClient) -> None:
    headers = sign_up(client)

    response = history(client, "never-used-key-0001", headers)

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_the_same_key_from_two_users_is_two_sessions(client: TestClient) -> None:
    alice, bob = sign_up(client), sign_up(client)

    chat(client, alice, query="alice asks about tides", session_id=KEY)
    chat(client, bob, query="bob asks about fog", session_id=KEY)

    alice_history, bob_history = history(client, KEY, alice), history(client, KEY, bob)
    assert contents(alice_history)[0] == "alice asks about tides"
    assert contents(bob_history)[0] == "bob asks about fog"
    assert "bob asks about fog" not in alice_history.text
    assert "alice asks about tides" not in bob_history.text
    sessions = {
        message["session_id"]
        for response in (alice_history, bob_history)
        for message in response.json()["messages"]
    }
    assert len(sessions) == 2


def test_a_session_id_of_the_caller_still_names_that_session(client: TestClient) -> None:
    headers = sign_up(client)
    first = chat(client, headers, query="native first")
    session_id = first.json()["session_id"]

    again = chat(client, headers, query="native second", session_id=session_id.upper())
    read = history(client, session_id, headers)

    assert again.json()["session_id"] == session_id.upper()
    assert contents(read)[0::2] == ["native first", "native second"]
    assert read.json()["session_id"] == session_id


def test_a_streamed_turn_names_its_session_by_the_key(client: TestClient) -> None:
    headers = sign_up(client)

    with client.stream(
        "POST",
        "/chat",
        json={"query": "stream it", "session_id": KEY, "stream": True},
        headers={"Origin": WIDGET, **headers},
    ) as response:
        assert response.status_code == 200
        assert response.headers["access-control-allow-origin"] == WIDGET
        text = "".join(response.iter_text())

    start = text.split("\n\n")[0]
    assert start.startswith("event: start")
    assert f'"session_id":"{KEY}"' in start
    done = [event for event in text.split("\n\n") if event.startswith("event: done")]
    assert f'"session_id":"{KEY}"' in done[0]


def test_a_failed_keyed_turn_names_its_session_by_the_key(database_url: str) -> None:
    settings = app_settings(database_url, allowed_origins=WIDGET)
    with TestClient(create_app(settings, answerer=ExplodingAnswerer())) as client:
        first = chat(client, query="explode without a user")  # the 502 carries a token
        client.cookies.clear()
        headers = {"Authorization": f"Bearer {first.json()['error']['details']['token']}"}
        failed = chat(client, headers, query="explode", session_id=KEY)

    assert failed.status_code == 502, failed.text
    assert failed.json()["error"]["details"]["session_id"] == KEY


# --- the legacy context ---------------------------------------------------------------------


def test_context_is_recorded_beside_the_question_not_in_it(client: TestClient) -> None:
    headers = sign_up(client)

    response = chat(
        client, headers, query="what does this mean?", context="the keeper trims the wick"
    )

    assert response.status_code == 200, response.text
    read = client.get(f"/history/{response.json()['session_id']}", headers=headers)
    question = read.json()["messages"][0]
    assert question["content"] == "what does this mean?"
    assert question["metadata"] == {"context": "the keeper trims the wick"}


def test_context_is_searched_with_the_question(client: TestClient) -> None:
    headers = sign_up(client)
    texts = [
        "The Brightwater lighthouse foghorn sounds twice a minute whenever fog rolls in.",
        "Harbour pilots board incoming ships at the outer buoy.",
        "The ferry timetable changes in winter, with fewer crossings.",
        "Tide tables list high and low water for every day of the year.",
    ]
    documents = [client.post("/documents", json={"text": text}, headers=headers) for text in texts]
    for document in documents:
        assert document.status_code == 202, document.text
        assert wait_for_document(client, headers, document.json()["id"])["status"] == "completed"
    document = documents[0]

    vague = chat(client, headers, query="what does this mean?")
    selected = chat(client, headers, query="what does this mean?", context="Brightwater foghorn")

    assert vague.json()["answer"] == NOT_FOUND
    assert selected.status_code == 200, selected.text
    sources = selected.json()["sources"]
    assert [source["document_id"] for source in sources] == [document.json()["id"]]
    assert "foghorn" in selected.json()["answer"]


# --- token-less legacy widgets ----------------------------------------------------------------


def test_without_tokenless_mode_a_key_without_a_credential_is_unauthorized(
    client: TestClient,
) -> None:
    headers = sign_up(client)
    chat(client, headers, query="mine", session_id=KEY)

    turn = chat(client, query="who am I?", session_id=KEY)
    read = history(client, KEY)

    for response in (turn, read):
        assert response.status_code == 401, response.text
        assert response.json()["error"]["code"] == "unauthorized"
        assert "set-cookie" not in response.headers
        assert response.headers["access-control-allow-origin"] == WIDGET  # readable: 401
    assert contents(history(client, KEY, headers))[0::2] == ["mine"]


def test_tokenless_mode_continues_the_session_the_key_started(tokenless: TestClient) -> None:
    client = tokenless

    first = chat(client, query="first, without any token", session_id=KEY)
    second = chat(client, query="second, still without", session_id=KEY)
    read = history(client, KEY)

    for response in (first, second):
        assert response.status_code == 200, response.text
        assert response.json()["session_id"] == KEY
        assert "token" not in response.json()  # the key is the credential
        assert "set-cookie" not in response.headers
    assert contents(read)[0::2] == ["first, without any token", "second, still without"]
    assert read.json()["session_id"] == KEY


def test_tokenless_keys_never_reach_a_users_session_of_the_same_key(
    tokenless: TestClient,
) -> None:
    client = tokenless
    headers = sign_up(client)
    chat(client, headers, query="signed-in question", session_id=KEY)

    anonymous = chat(client, query="token-less question", session_id=KEY)

    assert anonymous.status_code == 200, anonymous.text
    assert contents(history(client, KEY, headers))[0::2] == ["signed-in question"]
    assert contents(history(client, KEY))[0::2] == ["token-less question"]


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("short-key", "at least 16 characters"),
        (str(uuid.uuid4()), "UUID"),
        (uuid.uuid4().hex, "UUID"),
    ],
    ids=["too-short", "uuid", "uuid-hex"],
)
def test_tokenless_mode_refuses_short_keys_and_session_ids(
    tokenless: TestClient, name: str, reason: str
) -> None:
    client = tokenless

    turn = chat(client, query="guessable?", session_id=name)
    read = history(client, name)

    for response in (turn, read):
        assert response.status_code == 401, response.text
        assert reason in response.json()["error"]["message"]
        assert response.json()["error"]["details"]["field"] == "session_id"


def test_tokenless_mode_applies_to_chat_and_history_only(tokenless: TestClient) -> None:
    client = tokenless
    chat(client, query="a turn", session_id=KEY)

    for method, path in [
        ("GET", "/sessions"),
        ("GET", f"/sessions/{KEY}/messages"),
        ("GET", "/documents"),
        ("POST", "/auth/logout"),
    ]:
        response = client.request(method, path, headers={"Origin": WIDGET})
        assert response.status_code == 401, (method, path, response.text)


def test_a_new_tokenless_key_counts_as_a_new_anonymous_user_once(database_url: str) -> None:
    wait_for_a_fresh_window(3_600)
    with widget_app(
        database_url, legacy_tokenless_sessions=True, anon_users_per_address_per_hour=1
    ) as client:
        first = chat(client, query="one", session_id=KEY)
        again = chat(client, query="two", session_id=KEY)  # the same key's user: not new
        other = chat(client, query="three", session_id="another-widget-key")

    assert first.status_code == 200, first.text
    assert again.status_code == 200, again.text
    assert_rate_limited(other, limit=1, window_seconds=3_600)


@pytest.mark.parametrize("on", [False, True], ids=["off", "on"])
def test_the_description_says_when_a_key_stands_for_the_credential(on: bool) -> None:
    document = openapi_document(Settings(legacy_tokenless_sessions=on))
    chat_security = document["paths"]["/chat"]["post"]["security"]
    history_security = document["paths"]["/history/{session_id}"]["get"]["security"]
    sessions_security = document["paths"]["/sessions"]["get"]["security"]

    assert {} in chat_security  # a first turn needs no credential either way
    assert ({} in history_security) is on
    assert {} not in sessions_security


# --- the table: what the seed's clients send ----------------------------------------


def test_the_seed_clients_requests_get_2xx_in_tokenless_mode(tokenless: TestClient) -> None:
    client = tokenless

    keyed = chat(client, query="what is the lighthouse?", session_id=KEY)
    with_context = chat(client, query="and this?", session_id=KEY, context="selected text")
    preflight = client.options(
        "/chat", headers={"Origin": WIDGET, "Access-Control-Request-Method": "POST"}
    )
    read = history(client, KEY)
    tokenless_turn = chat(client, query="a second turn, no token", session_id=KEY)

    for response in (keyed, with_context, preflight, read, tokenless_turn):
        assert response.is_success, response.text
    assert all("timestamp" in message for message in read.json()["messages"])


def test_the_seed_clients_requests_get_2xx_or_the_documented_401(client: TestClient) -> None:
    headers = sign_up(client)

    keyed = chat(client, headers, query="what is the lighthouse?", session_id=KEY)
    with_context = chat(client, headers, query="and this?", context="selected text")
    preflight = client.options(
        "/chat", headers={"Origin": WIDGET, "Access-Control-Request-Method": "POST"}
    )
    read = history(client, KEY, headers)
    tokenless_turn = chat(client, query="a second turn, no token", session_id=KEY)

    for response in (keyed, with_context, preflight, read):
        assert response.is_success, response.text
    assert all("timestamp" in message for message in read.json()["messages"])
    assert tokenless_turn.status_code == 401
    assert tokenless_turn.headers["www-authenticate"].lower().startswith("bearer")
