"""Cross-site request forgery: what a browser can be made to send with the victim's cookie.

A write (POST, PATCH, DELETE) authenticated by the cookie alone needs an Origin (or Referer)
of the service itself or of ALLOWED_ORIGINS; a JSON body needs Content-Type:
application/json, which a cross-site form cannot send. Bearer clients are unaffected. The
cookie is Secure over HTTPS, directly or behind a trusted proxy.
"""

from __future__ import annotations

from typing import Any

import pytest
from starlette.testclient import TestClient

from service.app import create_app
from service.settings import BadValue, Settings, load_settings
from tests.service.conftest import app_settings

OWN = "http://testserver"  # the origin of the TestClient's requests
FRONT_END = "https://chat.example.com"
EVIL = "https://evil.example"


@pytest.fixture
def settings(database_url: str) -> Settings:
    return app_settings(database_url, allowed_origins=f"{FRONT_END}, http://localhost:5173")


@pytest.fixture
def victim(client: TestClient) -> dict[str, str]:
    """A user whose browser holds the cookie (``client`` sends it): their session and token."""
    first = client.post("/chat", json={"message": "my secret question"})
    assert first.status_code == 200, first.text
    return {"session_id": first.json()["session_id"], "token": first.json()["token"]}


def user_questions(client: TestClient, victim: dict[str, str]) -> list[str]:
    bearer = {"Authorization": f"Bearer {victim['token']}"}
    response = client.get(f"/sessions/{victim['session_id']}/messages", headers=bearer)
    assert response.status_code == 200, response.text
    return [m["content"] for m in response.json()["messages"] if m["role"] == "user"]


def assert_forbidden(response: Any, code: str) -> None:
    assert response.status_code == 403, response.text
    error = response.json()["error"]
    assert error["code"] == code
    assert "allowed origin" in error["message"]


# --- writes with the cookie alone ------------------------------------------------------------


def test_a_cookie_write_without_origin_or_referer_is_refused(
    client: TestClient, victim: dict[str, str]
) -> None:
    planted = client.post("/chat", json={"message": "planted", "session_id": victim["session_id"]})

    assert_forbidden(planted, "origin_required")
    assert "Authorization: Bearer" in planted.json()["error"]["message"]
    assert user_questions(client, victim) == ["my secret question"]


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": EVIL},
        {"Origin": "null"},  # sandboxed frames, some redirects
        {"Origin": "http://testserver.evil.example"},
        {"Origin": "https://testserver"},  # another scheme is another origin
        {"Referer": f"{EVIL}/page?x=1"},
        {"Origin": EVIL, "Referer": f"{OWN}/"},  # Origin, when sent, is what counts
    ],
    ids=["evil", "null", "lookalike", "other-scheme", "evil-referer", "origin-wins"],
)
def test_a_cookie_write_from_another_origin_is_refused(
    client: TestClient, victim: dict[str, str], headers: dict[str, str]
) -> None:
    planted = client.post(
        "/chat",
        json={"message": "planted", "session_id": victim["session_id"]},
        headers=headers,
    )

    assert_forbidden(planted, "origin_not_allowed")
    assert user_questions(client, victim) == ["my secret question"]


def test_a_cross_site_form_upload_with_the_cookie_plants_nothing(
    client: TestClient, victim: dict[str, str]
) -> None:
    upload = client.post(
        "/documents",
        files={"file": ("planted.txt", b"planted text", "text/plain")},
        headers={"Origin": EVIL},
    )
    bearer = {"Authorization": f"Bearer {victim['token']}"}

    assert_forbidden(upload, "origin_not_allowed")
    assert client.get("/documents", headers=bearer).json()["documents"] == []


def test_a_cross_site_logout_edit_or_delete_with_the_cookie_is_refused(
    client: TestClient, victim: dict[str, str]
) -> None:
    session = f"/sessions/{victim['session_id']}"
    logout = client.post("/auth/logout")
    rename = client.patch(session, json={"title": "pwned"}, headers={"Origin": EVIL})
    delete = client.delete(session, headers={"Referer": f"{EVIL}/"})

    assert_forbidden(logout, "origin_required")
    assert_forbidden(rename, "origin_not_allowed")
    assert_forbidden(delete, "origin_not_allowed")
    bearer = {"Authorization": f"Bearer {victim['token']}"}
    still = client.get(session, headers=bearer)
    assert still.status_code == 200  # the token still works, the session is unchanged
    assert still.json()["title"] != "pwned"


# --- what is allowed ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": OWN},  # the service's own page
        {"Origin": FRONT_END},
        {"Origin": "http://localhost:5173"},
        {"Origin": "HTTPS://Chat.Example.com:443"},  # the same origin, written otherwise
        {"Referer": f"{FRONT_END}/chat/42?tab=1"},
        {"Referer": f"{OWN}/"},
    ],
    ids=["own", "allowed", "allowed-port", "normalized", "allowed-referer", "own-referer"],
)
def test_a_cookie_write_from_an_allowed_origin_is_answered(
    client: TestClient, victim: dict[str, str], headers: dict[str, str]
) -> None:
    asked = client.post(
        "/chat",
        json={"message": "follow-up", "session_id": victim["session_id"]},
        headers=headers,
    )

    assert asked.status_code == 200, asked.text
    assert user_questions(client, victim) == ["my secret question", "follow-up"]


def test_reads_with_the_cookie_need_no_origin(client: TestClient, victim: dict[str, str]) -> None:
    assert client.get("/sessions", headers={"Origin": EVIL}).status_code == 200
    assert client.get(f"/sessions/{victim['session_id']}").status_code == 200


def test_bearer_clients_are_unaffected_by_origin_checks(
    client: TestClient, victim: dict[str, str]
) -> None:
    bearer = {"Authorization": f"Bearer {victim['token']}"}
    asked = client.post(
        "/chat",
        json={"message": "from a script", "session_id": victim["session_id"]},
        headers=bearer | {"Origin": EVIL},  # the cookie is sent too: the header is what counts
    )
    created = client.post("/sessions", json={"title": "t"}, headers=bearer)
    logout = client.post("/auth/logout", headers=bearer)

    assert asked.status_code == 200, asked.text
    assert created.status_code == 201, created.text
    assert logout.status_code == 204, logout.text


def test_a_first_turn_without_any_credential_needs_no_origin(client: TestClient) -> None:
    assert client.post("/chat", json={"message": "hello"}, headers={"Origin": EVIL}).is_success


# --- JSON bodies need their media type -----------------------------------------------------


@pytest.mark.parametrize(
    "content_type",
    [None, "text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x"],
    ids=["missing", "text", "urlencoded", "multipart"],
)
def test_a_json_body_without_its_content_type_is_415(
    client: TestClient, victim: dict[str, str], content_type: str | None
) -> None:
    bearer = {"Authorization": f"Bearer {victim['token']}"}
    headers = bearer if content_type is None else bearer | {"Content-Type": content_type}
    body = b'{"message": "planted", "session_id": "%s"}' % victim["session_id"].encode()

    response = client.post("/chat", content=body, headers=headers)
    renamed = client.patch(
        f"/sessions/{victim['session_id']}", content=b'{"title": "x"}', headers=headers
    )

    assert response.status_code == 415, response.text
    assert response.json()["error"]["code"] == "unsupported_media_type"
    assert "application/json" in response.json()["error"]["message"]
    assert renamed.status_code == 415, renamed.text
    assert user_questions(client, victim) == ["my secret question"]


def test_a_json_body_with_a_charset_is_accepted(client: TestClient) -> None:
    response = client.post(
        "/chat",
        content=b'{"message": "hello"}',
        headers={"Content-Type": "application/json; charset=utf-8"},
    )
    assert response.status_code == 200, response.text


# --- the cookie's Secure flag ----------------------------------------------------------------


def set_cookie(settings: Settings, *, base_url: str, peer: str, headers: dict[str, str]) -> str:
    """The Set-Cookie header a first turn answers with, as seen from ``peer``."""
    with TestClient(
        create_app(settings),
        base_url=base_url,
        client=(peer, 4000),
        raise_server_exceptions=False,
    ) as client:
        response = client.post("/chat", json={"message": "hello"}, headers=headers)
    assert response.status_code == 200, response.text
    cookie = response.headers["set-cookie"]
    assert cookie.startswith(f"{settings.cookie_name}=")
    assert "HttpOnly" in cookie
    assert "SameSite=lax" in cookie
    return cookie


@pytest.fixture
def proxied(database_url: str) -> Settings:
    return app_settings(database_url, trusted_proxies="10.0.0.1, 192.168.0.0/16")


def test_the_cookie_is_not_secure_over_plain_http(proxied: Settings) -> None:
    cookie = set_cookie(proxied, base_url=OWN, peer="203.0.113.5", headers={})
    assert "Secure" not in cookie


def test_the_cookie_is_secure_over_https(proxied: Settings) -> None:
    cookie = set_cookie(proxied, base_url="https://testserver", peer="203.0.113.5", headers={})
    assert "Secure" in cookie


def test_the_cookie_is_secure_behind_a_trusted_proxy_that_terminated_https(
    proxied: Settings,
) -> None:
    forwarded = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.5"}
    for proxy in ("10.0.0.1", "192.168.7.7"):
        cookie = set_cookie(proxied, base_url=OWN, peer=proxy, headers=forwarded)
        assert "Secure" in cookie


def test_x_forwarded_proto_from_an_untrusted_peer_is_ignored(proxied: Settings) -> None:
    forwarded = {"X-Forwarded-Proto": "https"}
    cookie = set_cookie(proxied, base_url=OWN, peer="203.0.113.5", headers=forwarded)
    assert "Secure" not in cookie


def test_cookie_secure_makes_it_secure_always(database_url: str) -> None:
    settings = app_settings(database_url, cookie_secure=True)
    cookie = set_cookie(settings, base_url=OWN, peer="203.0.113.5", headers={})
    assert "Secure" in cookie


def test_behind_a_trusted_https_proxy_the_own_origin_is_https(proxied: Settings) -> None:
    """The proxy's public origin (https://testserver here) is the service's own."""
    with TestClient(
        create_app(proxied), client=("10.0.0.1", 4000), raise_server_exceptions=False
    ) as client:
        https = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.5"}
        first = client.post("/chat", json={"message": "hello"}, headers=https)
        client.cookies.set(proxied.cookie_name, first.json()["token"])
        session = {"message": "again", "session_id": first.json()["session_id"]}
        own = client.post("/chat", json=session, headers=https | {"Origin": "https://testserver"})
        plain = client.post("/chat", json=session, headers=https | {"Origin": OWN})

    assert own.status_code == 200, own.text
    assert_forbidden(plain, "origin_not_allowed")


# --- configuration -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("ALLOWED_ORIGINS", "https://ok.example, chat.example.com"),
        ("ALLOWED_ORIGINS", "https://ok.example/app"),
        ("ALLOWED_ORIGINS", "*"),
        ("TRUSTED_PROXIES", "10.0.0.1, proxy.internal"),
        ("TRUSTED_PROXIES", "10.0.0.1/8"),  # host bits set: not a network
    ],
)
def test_a_bad_origin_or_proxy_setting_is_one_line_naming_it(variable: str, value: str) -> None:
    with pytest.raises(BadValue) as raised:
        load_settings({variable: value}, env_file=None)
    message = str(raised.value)
    assert message.startswith(f"{variable}: expected ")
    assert "\n" not in message


def test_origin_and_proxy_settings_are_read_as_lists() -> None:
    settings = load_settings(
        {
            "ALLOWED_ORIGINS": "https://Chat.Example.com/, http://localhost:5173,",
            "TRUSTED_PROXIES": " 10.0.0.1 ,fd00::/8, *",
        },
        env_file=None,
    )
    assert settings.allowed_origin_set() == {"https://chat.example.com", "http://localhost:5173"}
    assert settings.trusted_proxy_list() == ["10.0.0.1", "fd00::/8", "*"]
