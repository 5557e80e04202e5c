"""Who is calling: opaque bearer tokens (header or HttpOnly cookie), behind a small interface.

The endpoints only see ``Identity``: authenticate a request, create an anonymous user
with a credential, sign out. Better Auth sessions can replace ``TokenIdentity`` later by
implementing the same three methods.
"""

from __future__ import annotations

import datetime
import uuid
from typing import Protocol

import msgspec
from starlette.requests import Request
from starlette.responses import Response

from . import store
from .errors import ApiError
from .settings import Settings

__all__ = ["Identity", "NewUser", "Principal", "TokenIdentity", "require_user"]


class Principal(msgspec.Struct, frozen=True):
    user_id: uuid.UUID
    credential_id: uuid.UUID | None  # None when the identity has no revocable credential


class NewUser(msgspec.Struct, frozen=True):
    principal: Principal
    token: str  # shown to the client once


class Identity(Protocol):
    async def authenticate(self, request: Request) -> Principal | None:
        """The caller, None when no credential was presented; 401 when one is not valid."""

    async def create_anonymous(self, request: Request) -> NewUser:
        """A new anonymous user and the credential that identifies them from now on."""

    async def sign_out(self, request: Request, principal: Principal) -> None:
        """Revoke the credential the request presented."""

    def remember(self, response: Response, new_user: NewUser) -> None:
        """Make the browser send the new credential back (a cookie)."""

    def forget(self, response: Response) -> None:
        """Stop the browser sending the credential."""


def _unauthorized(message: str) -> ApiError:
    return ApiError(401, "unauthorized", message, headers={"WWW-Authenticate": "Bearer"})


class TokenIdentity:
    """Random tokens stored only as hashes, sent as ``Authorization: Bearer`` or a cookie."""

    def __init__(self, db: store.Db, settings: Settings) -> None:
        self._db = db
        self._cookie = settings.cookie_name
        self._secure = settings.cookie_secure
        self._ttl = datetime.timedelta(days=settings.token_ttl_days)

    def _token(self, request: Request) -> str | None:
        header = request.headers.get("authorization")
        if header is not None:
            scheme, _, token = header.partition(" ")
            if scheme.lower() != "bearer" or not token.strip():
                raise _unauthorized("the Authorization header must be 'Bearer <token>'")
            return token.strip()
        return request.cookies.get(self._cookie) or None

    async def authenticate(self, request: Request) -> Principal | None:
        token = self._token(request)
        if token is None:
            return None
        # Tokens we issue are 43 URL-safe characters; anything far off is not worth a query.
        if len(token) > 200 or not token.isascii():
            raise _unauthorized("the credential is not valid")
        credential = await store.lookup_credential(self._db, token)
        if credential is None:
            raise _unauthorized("the credential is not valid, has expired or was revoked")
        return Principal(credential.user_id, credential.id)

    async def create_anonymous(self, request: Request) -> NewUser:
        request_id = request.state.request_id

        async def work(conn: store.Connection) -> NewUser:
            user = await store.create_anonymous_user(conn, request_id=request_id)
            issued = await store.issue_credential(
                conn, user.id, ttl=self._ttl, kind="session", request_id=request_id
            )
            return NewUser(Principal(user.id, issued.credential.id), issued.token)

        return await store.exec_tx(self._db, work)

    async def sign_out(self, request: Request, principal: Principal) -> None:
        if principal.credential_id is not None:
            await store.revoke_credential(
                self._db,
                principal.user_id,
                principal.credential_id,
                request_id=request.state.request_id,
            )

    def remember(self, response: Response, new_user: NewUser) -> None:
        response.set_cookie(
            self._cookie,
            new_user.token,
            max_age=int(self._ttl.total_seconds()),
            httponly=True,
            secure=self._secure,
            samesite="lax",
        )

    def forget(self, response: Response) -> None:
        response.delete_cookie(self._cookie, httponly=True, secure=self._secure, samesite="lax")


async def require_user(request: Request) -> Principal:
    """The authenticated caller of a data endpoint; 401 without a valid credential."""
    identity: Identity = request.state.identity
    principal = await identity.authenticate(request)
    if principal is None:
        raise _unauthorized("authentication required: send 'Authorization: Bearer <token>'")
    request.state.user_id = principal.user_id
    return principal
