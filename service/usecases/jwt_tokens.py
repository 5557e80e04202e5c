"""Sign-in tokens: a JWT from an OIDC/JWT issuer (Better Auth, Auth0, Keycloak...), verified
against the issuer's published keys (its JWKS, JWT_JWKS_URL).

PyJWT checks the signature and the claims (iss, aud, exp, nbf, iat, within
JWT_LEEWAY_SECONDS of clock skew). The keys are fetched here rather than by PyJWT's
PyJWKClient: that client fetches with urllib, blocking the event loop for as long as the
issuer takes, and forgets every key when a fetch fails. ``SigningKeys`` fetches with httpx's
async client under a timeout, keeps the keys it holds when a fetch fails (the issuer down:
tokens signed by known keys still verify), fetches again after JWT_JWKS_CACHE_SECONDS and on
a key id it does not know (a rotation), at most once per JWT_JWKS_REFETCH_SECONDS, so tokens
naming made-up key ids cannot make it hammer the issuer. Concurrent requests share a fetch.

Algorithm confusion is closed three ways: only JWT_ALGORITHMS are accepted (asymmetric ones
only, ``settings``), so ``alg: none`` and an HS256 token "signed" with the public key are
refused before any key is looked at; the key is bound to the token's algorithm (``PyJWK``
refuses an RSA key for ES256, say); and a key that names its own ``alg`` is used for no other.

Nothing is cached per token: verifying a signature costs tens of microseconds, and who a
verified token names is one indexed read (``store.identified_user``).
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from typing import Any

import httpx
import jwt
import msgspec

from ..settings import Settings

__all__ = [
    "InvalidToken",
    "JwtVerifier",
    "KeysUnavailable",
    "SigningKeys",
    "VerifiedToken",
    "looks_like_jwt",
]

log = logging.getLogger("service.identity")

# Three base64url parts (the signature may be empty: an unsigned token, refused with its reason).
_JWT_SHAPE = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*")
_MAX_TOKEN_CHARS = 16_384
_KEY_TYPES = ("RSA", "EC", "OKP")


def looks_like_jwt(token: str) -> bool:
    """Whether a bearer token is shaped as a JWT. The opaque tokens this service issues are one
    base64url string (``secrets.token_urlsafe``), without dots."""
    return len(token) <= _MAX_TOKEN_CHARS and _JWT_SHAPE.fullmatch(token) is not None


class InvalidToken(Exception):
    """The token is not a valid sign-in token here; the message says why, in our words."""


class KeysUnavailable(Exception):
    """No key of the issuer is held, and they cannot be fetched now."""


class VerifiedToken(msgspec.Struct, frozen=True, kw_only=True):
    issuer: str
    subject: str
    email: str | None
    name: str | None
    expires_at: float  # exp, Unix time


class SigningKeys:
    """The issuer's public keys by key id, fetched from its JWKS and kept current."""

    def __init__(
        self,
        url: str,
        *,
        cache_seconds: float,
        refetch_seconds: float,
        timeout: float,
        client: httpx.AsyncClient | None = None,
    ) -> None:
        self._url = url
        self._cache_seconds = cache_seconds
        self._refetch_seconds = refetch_seconds
        self._client = client or httpx.AsyncClient(timeout=timeout, follow_redirects=False)
        self._owns_client = client is None
        self._keys: list[dict[str, Any]] = []
        self._fetched_at: float | None = None  # time.monotonic() of the last good fetch
        self._tried_at: float | None = None  # ... of the last attempt, good or not
        self._lock = asyncio.Lock()

    async def key(self, kid: str | None) -> dict[str, Any]:
        """The JWK with this key id (the only key, for a token without one)."""
        now = time.monotonic()
        if self._fetched_at is None or now - self._fetched_at >= self._cache_seconds:
            await self._refetch()
        found = self._find(kid)
        if found is None and self._keys:  # a key id not seen yet: the issuer may have rotated
            await self._refetch()
            found = self._find(kid)
        if found is not None:
            return found
        if not self._keys:
            raise KeysUnavailable("no signing key of the issuer could be fetched")
        if kid is None:
            raise InvalidToken(
                "the token names no key (kid) and the issuer publishes several: it cannot be "
                "verified"
            )
        raise InvalidToken("the token was signed by a key the issuer does not publish (kid)")

    def _find(self, kid: str | None) -> dict[str, Any] | None:
        if kid is None:
            return self._keys[0] if len(self._keys) == 1 else None
        return next((key for key in self._keys if key.get("kid") == kid), None)

    async def _refetch(self) -> None:
        """Fetch the keys unless a fetch was tried within JWT_JWKS_REFETCH_SECONDS; a failed
        fetch keeps the keys held."""
        tried = self._tried_at
        async with self._lock:
            if self._tried_at != tried:
                return  # another request fetched while this one waited
            if tried is not None and time.monotonic() - tried < self._refetch_seconds:
                return
            self._tried_at = time.monotonic()
            try:
                keys = await self._fetch()
            except (httpx.HTTPError, ValueError) as error:
                log.warning(
                    "cannot fetch the issuer's keys (JWT_JWKS_URL): %s: %s; %s",
                    type(error).__name__,
                    error,
                    f"keeping the {len(self._keys)} held" if self._keys else "none held",
                )
                return
            self._keys = keys
            self._fetched_at = time.monotonic()

    async def _fetch(self) -> list[dict[str, Any]]:
        response = await self._client.get(self._url, headers={"Accept": "application/json"})
        response.raise_for_status()
        document = response.json()
        published = document.get("keys") if isinstance(document, dict) else None
        if not isinstance(published, list):
            raise ValueError("the JWKS has no list of keys")
        keys = [
            key
            for key in published
            if isinstance(key, dict)
            and key.get("kty") in _KEY_TYPES
            and key.get("use", "sig") == "sig"
        ]
        if not keys:
            raise ValueError("the JWKS holds no public signing key")
        return keys

    async def aclose(self) -> None:
        if self._owns_client:
            await self._client.aclose()


class JwtVerifier:
    """Verifies sign-in tokens of the configured issuer."""

    def __init__(self, settings: Settings, keys: SigningKeys | None = None) -> None:
        # Settings refuse a JWKS URL without an issuer and an audience.
        assert settings.jwt_jwks_url is not None
        assert settings.jwt_issuer is not None
        assert settings.jwt_audience is not None
        self._issuer = settings.jwt_issuer
        self._audience = settings.jwt_audience
        self._algorithms = frozenset(settings.jwt_algorithm_list())
        self._leeway = settings.jwt_leeway_seconds
        self.keys = keys or SigningKeys(
            settings.jwt_jwks_url,
            cache_seconds=settings.jwt_jwks_cache_seconds,
            refetch_seconds=settings.jwt_jwks_refetch_seconds,
            timeout=settings.jwt_jwks_timeout,
        )

    async def verify(self, token: str) -> VerifiedToken:
        """Who the token names; InvalidToken when it is not valid, KeysUnavailable when the
        issuer's keys cannot be had."""
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise InvalidToken("the token is not a well-formed JWT") from None
        algorithm = header.get("alg")
        if not isinstance(algorithm, str) or algorithm.lower() == "none":
            raise InvalidToken("unsigned tokens (alg none) are refused")
        if algorithm not in self._algorithms:
            raise InvalidToken(
                f"tokens signed with {algorithm[:20]!r} are not accepted here (JWT_ALGORITHMS: "
                f"{', '.join(sorted(self._algorithms))})"
            )
        kid = header.get("kid")
        if kid is not None and not isinstance(kid, str):
            raise InvalidToken("the token's key id (kid) is not a string")
        jwk = await self.keys.key(kid)
        if jwk.get("alg", algorithm) != algorithm:
            raise InvalidToken("the token's algorithm is not the one its key is for")
        try:
            key = jwt.PyJWK(jwk, algorithm=algorithm)
        except jwt.PyJWTError:
            raise InvalidToken("the token's key cannot verify its algorithm") from None
        claims = self._decode(token, key, algorithm)
        return VerifiedToken(
            issuer=self._issuer,
            subject=_subject(claims.get("sub")),
            email=_text(claims.get("email"), 320),
            name=_text(claims.get("name"), 255),
            expires_at=float(claims["exp"]),
        )

    def _decode(self, token: str, key: jwt.PyJWK, algorithm: str) -> dict[str, Any]:
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key=key,
                algorithms=[algorithm],
                audience=self._audience,
                issuer=self._issuer,
                leeway=self._leeway,
                options={"require": ["exp", "iss", "aud", "sub"]},
            )
        except jwt.ExpiredSignatureError:
            raise InvalidToken("the token has expired") from None
        except jwt.ImmatureSignatureError:
            raise InvalidToken("the token is not valid yet (nbf or iat in the future)") from None
        except jwt.InvalidIssuerError:
            raise InvalidToken("the token was not issued by this service's issuer") from None
        except jwt.InvalidAudienceError:
            raise InvalidToken("the token is not meant for this service (aud)") from None
        except jwt.MissingRequiredClaimError as error:
            raise InvalidToken(f"the token has no {error.claim!r} claim") from None
        except jwt.InvalidSignatureError:
            raise InvalidToken("the token's signature does not verify") from None
        except jwt.PyJWTError:
            raise InvalidToken("the token is not valid") from None
        return claims

    async def aclose(self) -> None:
        await self.keys.aclose()


def _subject(value: object) -> str:
    """The subject as user_identities holds it: 1 to 255 printable characters."""
    if not isinstance(value, str) or not 1 <= len(value) <= 255 or not value.isprintable():
        raise InvalidToken("the token's subject (sub) must be 1 to 255 printable characters")
    return value


def _text(value: object, limit: int) -> str | None:
    """A profile claim (email, name) as it can be stored; None when it cannot."""
    if isinstance(value, str) and 1 <= len(value) <= limit and value.isprintable():
        return value
    return None
