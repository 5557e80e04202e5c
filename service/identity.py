"""How a credential travels over HTTP: ``Authorization: Bearer`` or an HttpOnly cookie.

Who the credential names is the accounts use case's business; this module only finds the
token in a request and sets or clears the cookie. The route table calls ``authenticate``
once per request, from each route's declared ``auth``.
"""

from __future__ import annotations

from typing import Protocol

from starlette.requests import Request
from starlette.responses import Response

from .errors import ApiError
from .settings import Settings
from .usecases.accounts import Accounts, NewUser, Principal

__all__ = ["Identity", "TokenIdentity", "unauthorized"]


class Identity(Protocol):
    async def authenticate(self, request: Request) -> Principal | None:
        """The caller, None when no credential was presented; 401 when one is not valid."""

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
        self._secure = settings.cookie_secure

    def _token(self, request: Request) -> str | None:
        header = request.headers.get("authorization")
        if header is not None:
            scheme, _, token = header.partition(" ")
            if scheme.lower() != "bearer" or not token.strip():
                raise unauthorized("the Authorization header must be 'Bearer <token>'")
            return token.strip()
        return request.cookies.get(self._cookie) or None

    async def authenticate(self, request: Request) -> Principal | None:
        token = self._token(request)
        if token is None:
            return None
        return await self._accounts.authenticate(token)

    def remember(self, response: Response, new_user: NewUser) -> None:
        response.set_cookie(
            self._cookie,
            new_user.token,
            max_age=int(self._accounts.ttl.total_seconds()),
            httponly=True,
            secure=self._secure,
            samesite="lax",
        )

    def forget(self, response: Response) -> None:
        response.delete_cookie(self._cookie, httponly=True, secure=self._secure, samesite="lax")
