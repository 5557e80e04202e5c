"""How a credential travels over HTTP: ``Authorization: Bearer`` or an HttpOnly cookie.

Who the credential names is the accounts use case's business; this module only finds the
token in a request and sets or clears the cookie. The route table calls ``for_request`` and
``authenticate`` once per request, from each route's declared ``auth``.

A browser sends the cookie with requests other sites make it send, so a write (POST, PUT,
PATCH, DELETE) authenticated by the cookie alone must say where it comes from: its
``Origin`` (or, without one, its ``Referer``) must be the service's own origin or one of
ALLOWED_ORIGINS, else 403. A bearer token is never sent by a browser on its own: requests
that carry one are not checked. The cookie is ``Secure`` when the request came over HTTPS
(directly, or by ``X-Forwarded-Proto`` from a trusted proxy), or always with COOKIE_SECURE;
its SameSite is COOKIE_SAMESITE (lax; none for a widget on another site). A browser on one of
ALLOWED_ORIGINS may also call the API cross-origin (CORS, ``app``): the same list passes here.

A front end that signs its own users in (Open WebUI) may act for them: its request carries
the front-end key (FRONTEND_API_KEY) as its bearer token, and the user in Open WebUI's
forwarded headers (``X-OpenWebUI-User-Id``, ``-Email``, ``-Name``), who is then a user of
ours by that external id. The headers count only with the key; with any other credential
they are refused (401), so no client can claim to be someone by sending them.

A sign-in token (a JWT of JWT_ISSUER, known by its shape: three base64url parts, where the
tokens this service issues are one) comes as the bearer token, never in the cookie. Sent
with an anonymous user's credential, in ``X-Anonymous-Token`` or the cookie, it claims that
user's history (``Accounts.claim``); the cookie is then cleared from the answer (by the route
machinery, which reads ``request.state.forget_credential``): it names no one any more.
"""

from __future__ import annotations

import copy
import hmac
from typing import Protocol

from starlette.requests import Request
from starlette.responses import Response

from . import store
from .errors import ApiError
from .settings import Settings, normal_origin
from .usecases.accounts import Accounts, NewUser, Principal
from .usecases.jwt_tokens import KeysUnavailable, looks_like_jwt

__all__ = ["ANONYMOUS_TOKEN", "Identity", "TokenIdentity", "unauthorized"]

_WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# Open WebUI's forwarded user (ENABLE_FORWARD_USER_INFO_HEADERS), and the issuer its ids get.
FORWARDED_USER = "x-openwebui-user-id"
FORWARDED_EMAIL = "x-openwebui-user-email"
FORWARDED_NAME = "x-openwebui-user-name"
FRONTEND_ISSUER = "openwebui"
# An anonymous credential sent beside a sign-in token, by a client that holds it (not a cookie).
ANONYMOUS_TOKEN = "x-anonymous-token"


class Identity(Protocol):
    def for_request(self, request: Request) -> Identity:
        """This identity as one request sees it (its cookie Secure over HTTPS)."""

    async def authenticate(self, request: Request) -> Principal | None:
        """The caller, None when no credential was presented; 401 when one is not valid,
        403 for a write authenticated by the cookie alone from an origin not allowed."""

    def remember(self, response: Response, new_user: NewUser) -> None:
        """Make the browser send the new credential back (a cookie)."""

    def forget(self, response: Response) -> None:
        """Stop the browser sending the credential."""


def unauthorized(message: str, details: dict[str, str] | None = None) -> ApiError:
    return ApiError(401, "unauthorized", message, details, headers={"WWW-Authenticate": "Bearer"})


class TokenIdentity:
    """Opaque tokens, sent as ``Authorization: Bearer <token>`` or in a cookie."""

    def __init__(self, accounts: Accounts, settings: Settings) -> None:
        self._accounts = accounts
        self._cookie = settings.cookie_name
        self._always_secure = settings.cookie_secure
        self._secure = settings.cookie_secure
        self._same_site = settings.cookie_same_site()
        self._origins = settings.allowed_origin_set()
        self._frontend_key = settings.frontend_api_key
        self._retry_after = settings.retry_after_seconds

    def for_request(self, request: Request) -> TokenIdentity:
        secure = self._always_secure or request.scope.get("scheme") == "https"
        if secure == self._secure:
            return self
        bound = copy.copy(self)
        bound._secure = secure
        return bound

    def _token(self, request: Request) -> tuple[str | None, bool]:
        """The token, and whether it came in the cookie."""
        header = request.headers.get("authorization")
        if header is not None:
            scheme, _, token = header.partition(" ")
            if scheme.lower() != "bearer" or not token.strip():
                raise unauthorized("the Authorization header must be 'Bearer <token>'")
            return token.strip(), False
        cookie = request.cookies.get(self._cookie) or None
        return cookie, cookie is not None

    async def authenticate(self, request: Request) -> Principal | None:
        token, by_cookie = self._token(request)
        forwarded = request.headers.get(FORWARDED_USER)
        if token is not None and not by_cookie and self._is_frontend_key(token):
            return await self._forwarded_user(request, forwarded)
        if forwarded is not None:
            raise unauthorized(
                "X-OpenWebUI-User-Id is accepted only with the front-end key "
                "(FRONTEND_API_KEY) as the bearer token"
            )
        if token is None:
            return None
        if not by_cookie and self._accounts.tokens is not None and looks_like_jwt(token):
            return await self._signed_in(request, token)
        if by_cookie and request.method in _WRITES:
            self._check_origin(request)
        return await self._accounts.authenticate(token)

    async def _signed_in(self, request: Request, token: str) -> Principal:
        """The user a sign-in token names, after claiming the anonymous history sent with it.

        No origin check: a sign-in token travels only in the Authorization header, which no
        page of another site can make a browser send."""
        request_id = request.state.request_id
        try:
            principal = await self._accounts.sign_in(token, request_id=request_id)
        except KeysUnavailable:
            raise ApiError(
                503,
                "identity_provider_unavailable",
                "the sign-in token cannot be checked now: the identity provider's keys "
                "(JWT_JWKS_URL) cannot be fetched; retry shortly",
                headers={"Retry-After": str(self._retry_after)},
            ) from None
        anonymous = request.headers.get(ANONYMOUS_TOKEN)
        if anonymous is None:
            anonymous = request.cookies.get(self._cookie) or None
            # Claimed or stale, the cookie names no one the signed-in browser needs.
            request.state.forget_credential = anonymous is not None
        if anonymous is not None and anonymous.strip():
            try:
                await self._accounts.claim(principal, anonymous.strip(), request_id=request_id)
            except store.NotClaimable as refused:
                raise ApiError(409, "not_claimable", str(refused)) from None
        return principal

    def _is_frontend_key(self, token: str) -> bool:
        key = self._frontend_key
        return key is not None and hmac.compare_digest(token.encode(), key.encode())

    async def _forwarded_user(self, request: Request, subject: str | None) -> Principal:
        """The front end's user, named by its forwarded headers."""
        if subject is None or not subject.strip():
            raise unauthorized(
                "the front-end key acts for a user: send the user's id in X-OpenWebUI-User-Id"
            )
        values = {
            "X-OpenWebUI-User-Id": subject.strip(),
            "X-OpenWebUI-User-Email": request.headers.get(FORWARDED_EMAIL),
            "X-OpenWebUI-User-Name": request.headers.get(FORWARDED_NAME),
        }
        for header, value in values.items():
            limit = 320 if header.endswith("Email") else 255
            if value is not None and (len(value) > limit or not value.isprintable()):
                raise unauthorized(
                    f"header {header}: at most {limit} printable characters", {"header": header}
                )
        return await self._accounts.forwarded(
            FRONTEND_ISSUER,
            subject.strip(),
            email=values["X-OpenWebUI-User-Email"] or None,
            name=values["X-OpenWebUI-User-Name"] or None,
        )

    def _check_origin(self, request: Request) -> None:
        """403 unless the request comes from the service's own origin or an allowed one."""
        header = "Origin" if "origin" in request.headers else "Referer"
        sent = request.headers.get(header)
        if sent is None:
            raise ApiError(
                403,
                "origin_required",
                "a write authenticated by the cookie alone must come from an allowed origin, "
                "and this request sends neither Origin nor Referer; send one, or authenticate "
                "with 'Authorization: Bearer <token>'",
            )
        origin = normal_origin(sent, exact=header == "Origin")
        own = normal_origin(f"{request.url.scheme}://{request.headers.get('host', '')}")
        if origin is None or (origin != own and origin not in self._origins):
            shown = sent if len(sent) <= 200 else sent[:197] + "..."
            raise ApiError(
                403,
                "origin_not_allowed",
                f"a write authenticated by the cookie alone must come from an allowed origin, "
                f"and this request's {header} ({shown}) is not one (ALLOWED_ORIGINS)",
                {header.lower(): shown},
            )

    def remember(self, response: Response, new_user: NewUser) -> None:
        response.set_cookie(
            self._cookie,
            new_user.token,
            max_age=int(self._accounts.ttl.total_seconds()),
            httponly=True,
            secure=self._secure,
            samesite=self._same_site,
        )

    def forget(self, response: Response) -> None:
        response.delete_cookie(
            self._cookie, httponly=True, secure=self._secure, samesite=self._same_site
        )
