"""Sign-in by a JWT verified against the issuer's JWKS (issue 16, items 1, 3 and GET /me): a
loopback issuer with keys generated here signs the tokens; the service fetches its keys."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Iterator
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from starlette.testclient import TestClient

from service import store
from service.app import create_app
from service.settings import SettingsError, load_settings
from tests.service.conftest import app_settings, sign_up
from tests.service.issuer import (
    AUDIENCE,
    ISSUER,
    Issuer,
    bearer,
    jwt_settings,
    loopback_issuer,
)

UNAUTHORIZED_CODE = "unauthorized"


@pytest.fixture
def issuer() -> Iterator[Issuer]:
    with loopback_issuer() as running:
        running.add_key("rsa-1", "RSA")
        running.add_key("ec-1", "EC")
        running.add_key("ed-1", "Ed25519")
        yield running


@pytest.fixture
def client(database_url: str, issuer: Issuer) -> Iterator[TestClient]:
    app = create_app(jwt_settings(database_url, issuer))
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


def refused(response: Any, says: str) -> None:
    """A 401 in the API's error shape whose message says why."""
    assert response.status_code == 401, response.text
    error = response.json()["error"]
    assert error["code"] == UNAUTHORIZED_CODE
    assert says in error["message"], error["message"]
    assert response.headers["www-authenticate"] == "Bearer"


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def forged(header: dict[str, Any], payload: dict[str, Any], signature: bytes) -> str:
    signing_input = f"{b64(json.dumps(header).encode())}.{b64(json.dumps(payload).encode())}"
    return f"{signing_input}.{b64(signature)}"


def claims(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    return {"iss": ISSUER, "aud": AUDIENCE, "sub": "user-1", "iat": now, "exp": now + 300} | (
        overrides
    )


# --- signing in -----------------------------------------------------------------------------


@pytest.mark.parametrize("kid", ["rsa-1", "ec-1", "ed-1"])
def test_a_valid_token_signs_a_user_in_and_me_shows_its_claims(
    client: TestClient, issuer: Issuer, kid: str
) -> None:
    token = issuer.token(kid, subject="alice", email="alice@example.test", name="Alice")
    response = client.get("/me", headers=bearer(token))
    assert response.status_code == 200, response.text
    me = response.json()
    assert me["anonymous"] is False
    assert me["email"] == "alice@example.test"
    assert me["name"] == "Alice"
    assert me["identities"] == [
        {"issuer": ISSUER, "subject": "alice", "email": "alice@example.test", "name": "Alice"}
    ]
    assert me["counts"] == {"sessions": 0, "messages": 0, "documents": 0}
    # The same subject again, by any of the issuer's keys, is the same user.
    again = client.get("/me", headers=bearer(issuer.token("rsa-1", subject="alice")))
    assert again.json()["user_id"] == me["user_id"]


def test_a_signed_in_user_keeps_their_history_and_email_and_name_follow_the_token(
    client: TestClient, issuer: Issuer
) -> None:
    first = bearer(issuer.token("ec-1", subject="bob", email="bob@old.test", name="Bob"))
    chat = client.post("/chat", json={"message": "what is a session?"}, headers=first)
    assert chat.status_code == 200, chat.text
    assert "token" not in chat.json()  # no anonymous user was made
    later = bearer(issuer.token("ed-1", subject="bob", email="bob@new.test", name="Robert"))
    me = client.get("/me", headers=later).json()
    assert (me["email"], me["name"]) == ("bob@new.test", "Robert")
    assert me["counts"]["sessions"] == 1
    assert me["counts"]["messages"] == 2  # the question and its answer
    sessions = client.get("/sessions", headers=later).json()["sessions"]
    assert [session["id"] for session in sessions] == [chat.json()["session_id"]]


def test_two_subjects_are_two_users_who_never_see_each_other(
    client: TestClient, issuer: Issuer
) -> None:
    alice = bearer(issuer.token("rsa-1", subject="alice"))
    mallory = bearer(issuer.token("rsa-1", subject="mallory"))
    session = client.post("/sessions", json={"title": "alice's"}, headers=alice).json()
    assert client.get(f"/sessions/{session['id']}", headers=mallory).status_code == 404
    assert client.get("/sessions", headers=mallory).json()["sessions"] == []
    assert client.get("/me", headers=mallory).json()["counts"]["sessions"] == 0


def test_opaque_tokens_keep_working_beside_sign_in(client: TestClient) -> None:
    headers = sign_up(client)
    me = client.get("/me", headers=headers)
    assert me.status_code == 200, me.text
    assert me.json()["anonymous"] is True
    assert me.json()["identities"] == []
    assert me.json()["counts"]["sessions"] == 1


def test_me_needs_a_credential(client: TestClient) -> None:
    refused(client.get("/me"), "authentication required")


# --- tokens refused -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "says"),
    [
        ({"exp": int(time.time()) - 3600}, "expired"),
        ({"nbf": int(time.time()) + 3600}, "not valid yet"),
        ({"iat": int(time.time()) + 3600}, "not valid yet"),
        ({"iss": "https://evil.example.test"}, "not issued by"),
        ({"aud": "https://another-app.example.test"}, "not meant for this service"),
        ({"exp": None}, "'exp'"),
        ({"sub": None}, "'sub'"),
        ({"sub": ""}, "subject"),
    ],
    ids=[
        "expired",
        "not-yet-valid",
        "issued-in-the-future",
        "wrong-issuer",
        "wrong-audience",
        "no-expiry",
        "no-subject",
        "empty-subject",
    ],
)
def test_a_token_with_bad_claims_is_refused(
    client: TestClient, issuer: Issuer, overrides: dict[str, Any], says: str
) -> None:
    refused(client.get("/me", headers=bearer(issuer.token("rsa-1", **overrides))), says)


def test_clock_skew_is_tolerated_within_the_leeway_only(client: TestClient, issuer: Issuer) -> None:
    """JWT_LEEWAY_SECONDS is 60 by default: a token expired 20 s ago still passes."""
    now = int(time.time())
    just_expired = issuer.token("rsa-1", exp=now - 20, iat=now - 320)
    assert client.get("/me", headers=bearer(just_expired)).status_code == 200
    long_expired = issuer.token("rsa-1", exp=now - 120, iat=now - 420)
    refused(client.get("/me", headers=bearer(long_expired)), "expired")


def test_an_unsigned_token_is_refused(client: TestClient) -> None:
    unsigned = forged({"alg": "none", "typ": "JWT"}, claims(), b"")
    refused(client.get("/me", headers=bearer(unsigned)), "alg none")
    with_kid = forged({"alg": "none", "kid": "rsa-1"}, claims(), b"")
    refused(client.get("/me", headers=bearer(with_kid)), "alg none")


def test_an_hs256_token_signed_with_the_public_key_is_refused(
    client: TestClient, issuer: Issuer
) -> None:
    """Algorithm confusion: the attacker knows the public key and signs with it as an HMAC
    secret; a verifier that let the token pick the algorithm would accept it."""
    _, key = issuer.keys["rsa-1"]
    public_pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    header = {"alg": "HS256", "typ": "JWT", "kid": "rsa-1"}
    signing_input = forged(header, claims(), b"").rstrip(".")
    signature = hmac.new(public_pem, signing_input.encode(), hashlib.sha256).digest()
    token = f"{signing_input}.{b64(signature)}"
    refused(client.get("/me", headers=bearer(token)), "HS256")


def test_a_token_claiming_another_algorithm_than_its_key_is_refused(
    client: TestClient, issuer: Issuer
) -> None:
    """An RSA key's kid on a token that says ES256 (an accepted algorithm)."""
    _, ec_key = issuer.keys["ec-1"]
    token = jwt.encode(claims(), ec_key, algorithm="ES256", headers={"kid": "rsa-1"})
    refused(client.get("/me", headers=bearer(token)), "algorithm")


def test_a_forged_signature_is_refused(client: TestClient, issuer: Issuer) -> None:
    issuer.add_key("attacker", "RSA", publish=False)
    token = issuer.token("attacker", headers={"kid": "rsa-1"})  # claims a published kid
    refused(client.get("/me", headers=bearer(token)), "signature")
    head, _, signature = issuer.token("rsa-1").split(".")
    tampered_payload = b64(json.dumps(claims(sub="someone-else")).encode())
    refused(
        client.get("/me", headers=bearer(f"{head}.{tampered_payload}.{signature}")), "signature"
    )


def test_garbage_in_the_shape_of_a_jwt_is_a_401(client: TestClient) -> None:
    for token in ("a.b.c", "eyJhbGciOiJSUzI1NiJ9.e30.", "e30.e30.e30"):
        response = client.get("/me", headers=bearer(token))
        assert response.status_code == 401, (token, response.text)


def test_without_a_jwks_url_a_jwt_is_an_invalid_credential(
    database_url: str, issuer: Issuer
) -> None:
    with TestClient(create_app(app_settings(database_url))) as plain:
        response = plain.get("/me", headers=bearer(issuer.token("rsa-1")))
    assert response.status_code == 401
    assert issuer.fetches == 0


# --- the issuer's keys ----------------------------------------------------------------------


def test_an_unknown_kid_is_fetched_again_and_a_rotated_key_is_then_accepted(
    client: TestClient, issuer: Issuer
) -> None:
    assert client.get("/me", headers=bearer(issuer.token("rsa-1"))).status_code == 200
    fetched = issuer.fetches
    issuer.add_key("rsa-2", "RSA", publish=False)
    rotated = issuer.token("rsa-2")
    refused(client.get("/me", headers=bearer(rotated)), "does not publish")
    assert issuer.fetches == fetched + 1  # the unknown kid made it look again
    issuer.published = ["rsa-2"]  # the rotation: the new key published, the old one retired
    time.sleep(0.1)  # past JWT_JWKS_REFETCH_SECONDS (50 ms here)
    assert client.get("/me", headers=bearer(rotated)).status_code == 200
    assert issuer.fetches == fetched + 2


def test_unknown_kids_refetch_the_keys_at_most_once_per_interval(
    database_url: str, issuer: Issuer
) -> None:
    settings = jwt_settings(database_url, issuer, jwt_jwks_refetch_seconds=3600.0)
    with TestClient(create_app(settings)) as client:
        assert client.get("/me", headers=bearer(issuer.token("rsa-1"))).status_code == 200
        for number in range(5):
            kid = issuer.add_key(f"made-up-{number}", "EC", publish=False)
            refused(client.get("/me", headers=bearer(issuer.token(kid))), "does not publish")
        assert client.get("/me", headers=bearer(issuer.token("ec-1"))).status_code == 200
    assert issuer.fetches == 1


def test_with_the_jwks_down_the_keys_held_keep_working(database_url: str, issuer: Issuer) -> None:
    # Keys are due for a refetch on every request here: each one tries, and fails.
    settings = jwt_settings(
        database_url, issuer, jwt_jwks_cache_seconds=0.01, jwt_jwks_refetch_seconds=0.01
    )
    with TestClient(create_app(settings)) as client:
        assert client.get("/me", headers=bearer(issuer.token("rsa-1"))).status_code == 200
        issuer.down = True
        fetched = issuer.fetches
        for _ in range(3):
            time.sleep(0.02)
            response = client.get("/me", headers=bearer(issuer.token("ed-1")))
            assert response.status_code == 200, response.text
        assert issuer.fetches > fetched  # it did try


def test_with_the_jwks_down_and_no_keys_held_sign_in_is_a_503_with_a_clear_error(
    client: TestClient, issuer: Issuer
) -> None:
    issuer.down = True
    response = client.get("/me", headers=bearer(issuer.token("rsa-1")))
    assert response.status_code == 503, response.text
    error = response.json()["error"]
    assert error["code"] == "identity_provider_unavailable"
    assert "JWT_JWKS_URL" in error["message"]
    assert int(response.headers["retry-after"]) >= 1
    # Opaque tokens do not depend on the issuer.
    assert client.get("/sessions", headers=sign_up(client)).status_code == 200
    issuer.down = False
    time.sleep(0.1)  # past JWT_JWKS_REFETCH_SECONDS
    assert client.get("/me", headers=bearer(issuer.token("rsa-1"))).status_code == 200


def test_with_the_jwks_unreachable_sign_in_is_a_503(database_url: str, issuer: Issuer) -> None:
    """Nothing listens at the URL: a refused connection, not a 500."""
    settings = jwt_settings(database_url, issuer, jwt_jwks_url="http://127.0.0.1:9/jwks")
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        response = client.get("/me", headers=bearer(issuer.token("rsa-1")))
    assert response.status_code == 503, response.text
    assert response.json()["error"]["code"] == "identity_provider_unavailable"


# --- operators choose -----------------------------------------------------------------------


def test_with_anonymous_access_off_only_signed_in_users_chat(
    database_url: str, issuer: Issuer
) -> None:
    settings = jwt_settings(database_url, issuer, anonymous_access=False)
    with TestClient(create_app(settings)) as client:
        refused(client.post("/chat", json={"message": "hello"}), "anonymous access is off")
        signed_in = bearer(issuer.token("rsa-1"))
        response = client.post("/chat", json={"message": "hello"}, headers=signed_in)
        assert response.status_code == 200, response.text


@pytest.mark.parametrize(
    ("environ", "variable"),
    [
        ({"JWT_ALGORITHMS": "RS256,none"}, "JWT_ALGORITHMS"),
        ({"JWT_ALGORITHMS": "HS256"}, "JWT_ALGORITHMS"),
        ({"JWT_JWKS_URL": "https://auth.example.test/jwks"}, "JWT_ISSUER"),
        ({"JWT_JWKS_URL": "https://a.test/jwks", "JWT_ISSUER": "https://a.test"}, "JWT_AUDIENCE"),
        ({"JWT_JWKS_URL": "ftp://a.test/jwks"}, "JWT_JWKS_URL"),
        ({"JWT_LEEWAY_SECONDS": "3600"}, "JWT_LEEWAY_SECONDS"),
    ],
)
def test_a_bad_jwt_setting_is_one_line_naming_it(environ: dict[str, str], variable: str) -> None:
    with pytest.raises(SettingsError) as raised:
        load_settings(environ, env_file=None)
    message = str(raised.value)
    assert message.startswith(f"{variable}:"), message
    assert "\n" not in message


def test_jwt_on_and_anonymous_on_is_the_default_with_a_jwks() -> None:
    settings = load_settings(
        {"JWT_JWKS_URL": "https://a.test/jwks", "JWT_ISSUER": ISSUER, "JWT_AUDIENCE": AUDIENCE},
        env_file=None,
    )
    assert settings.anonymous_access is True
    assert settings.jwt_algorithm_list() == ["RS256", "ES256", "EdDSA"]
    assert settings.jwt_leeway_seconds == 60


def test_a_token_seen_lately_is_not_looked_up_again_until_its_user_is_gone(
    client: TestClient, issuer: Issuer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Like an opaque token, a sign-in token costs the request no statement of its own once
    cached (issue 14: one round trip per authenticated read), and its user's erasure drops it."""
    accounts = client.app_state["accounts"]
    deadline = time.monotonic() + 10
    while not accounts._cache.active:  # the revocation feed is listening
        assert time.monotonic() < deadline, "the credential cache never became active"
        time.sleep(0.05)
    looked_up: list[str] = []
    identified_user = store.identified_user

    async def counting(*args: Any, **kwargs: Any) -> Any:
        looked_up.append(args[2])  # the subject
        return await identified_user(*args, **kwargs)

    monkeypatch.setattr(store, "identified_user", counting)
    headers = bearer(issuer.token("rsa-1", subject="frank"))
    first = client.get("/me", headers=headers).json()["user_id"]
    for _ in range(3):
        assert client.get("/sessions", headers=headers).status_code == 200
    assert looked_up == ["frank"]
    assert client.get("/me", headers=bearer(issuer.token("rsa-1", subject="gina"))).is_success
    assert looked_up == ["frank", "gina"]

    assert client.delete("/me", headers=headers).status_code in (202, 204)
    again = client.get("/me", headers=headers).json()["user_id"]
    assert again != first  # a new user: the erased one's entry was dropped
    assert looked_up == ["frank", "gina", "frank"]
