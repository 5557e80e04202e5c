"""A loopback token issuer for the sign-in tests: keys generated here (RSA, EC P-256, Ed25519),
their public halves served as a JWKS by a threaded HTTP server on 127.0.0.1, tokens signed
with them. The JWKS can be rotated and taken down (503) while the service runs."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from jwt.algorithms import ECAlgorithm, OKPAlgorithm, RSAAlgorithm

from service.settings import Settings
from tests.service.conftest import app_settings

ISSUER = "https://auth.example.test"
AUDIENCE = "https://chat.example.test"
KeyKind = Literal["RSA", "EC", "Ed25519"]
ALGORITHM: dict[KeyKind, str] = {"RSA": "RS256", "EC": "ES256", "Ed25519": "EdDSA"}

PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey


def new_key(kind: KeyKind) -> PrivateKey:
    if kind == "RSA":
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    if kind == "EC":
        return ec.generate_private_key(ec.SECP256R1())
    return ed25519.Ed25519PrivateKey.generate()


def public_jwk(kind: KeyKind, key: PrivateKey, kid: str) -> dict[str, Any]:
    jwk: dict[str, Any]
    if isinstance(key, rsa.RSAPrivateKey):
        jwk = RSAAlgorithm.to_jwk(key.public_key(), as_dict=True)
    elif isinstance(key, ec.EllipticCurvePrivateKey):
        jwk = ECAlgorithm.to_jwk(key.public_key(), as_dict=True)
    else:
        jwk = OKPAlgorithm.to_jwk(key.public_key(), as_dict=True)
    return jwk | {"kid": kid, "use": "sig", "alg": ALGORITHM[kind]}


class Issuer:
    """Keys by kid; ``publish`` puts a key in the JWKS, ``down`` makes the JWKS answer 503."""

    def __init__(self, url: str) -> None:
        self.jwks_url = url
        self.keys: dict[str, tuple[KeyKind, PrivateKey]] = {}
        self.published: list[str] = []
        self.down = False
        self.fetches = 0  # requests for the JWKS, answered or not

    def add_key(self, kid: str, kind: KeyKind = "RSA", *, publish: bool = True) -> str:
        self.keys[kid] = (kind, new_key(kind))
        if publish:
            self.published.append(kid)
        return kid

    def jwks(self) -> dict[str, Any]:
        return {"keys": [public_jwk(*self.keys[kid], kid) for kid in self.published]}

    def token(
        self,
        kid: str,
        *,
        subject: str = "user-1",
        expires_in: float = 300,
        headers: dict[str, Any] | None = None,
        **claims: Any,
    ) -> str:
        """A token signed with the key ``kid``; ``claims`` override or add (None removes)."""
        kind, key = self.keys[kid]
        now = int(time.time())
        payload: dict[str, Any] = {
            "iss": ISSUER,
            "aud": AUDIENCE,
            "sub": subject,
            "iat": now,
            "exp": now + int(expires_in),
        } | claims
        payload = {name: value for name, value in payload.items() if value is not None}
        return jwt.encode(
            payload, key, algorithm=ALGORITHM[kind], headers={"kid": kid} | (headers or {})
        )


@contextmanager
def loopback_issuer() -> Iterator[Issuer]:
    """An Issuer whose JWKS is served on a loopback port for the duration."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    issuer = Issuer(f"http://127.0.0.1:{server.server_address[1]}/api/auth/jwks")

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            issuer.fetches += 1
            if issuer.down or self.path != "/api/auth/jwks":
                self.send_response(503 if issuer.down else 404)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            body = json.dumps(issuer.jwks()).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server.RequestHandlerClass = Handler
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield issuer
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def jwt_settings(database_url: str, issuer: Issuer, **overrides: Any) -> Settings:
    """Test app settings that accept the issuer's tokens; keys fetched again at most every
    50 ms (a rotation is seen at once), held for an hour unless a test says otherwise."""
    values: dict[str, Any] = {
        "jwt_jwks_url": issuer.jwks_url,
        "jwt_issuer": ISSUER,
        "jwt_audience": AUDIENCE,
        "jwt_jwks_refetch_seconds": 0.05,
        "jwt_jwks_cache_seconds": 3600.0,
    }
    return app_settings(database_url, **(values | overrides))


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
