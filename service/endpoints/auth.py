"""Credentials: revoke the one a request presents (anonymous users get theirs from /chat)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from ..identity import Identity
from ..usecases.accounts import Accounts, Principal

__all__ = ["logout"]


async def logout(request: Request, *, user: Principal) -> Response:
    """Revoke the presented credential; later requests with it answer 401."""
    accounts: Accounts = request.state.accounts
    await accounts.sign_out(user, request_id=request.state.request_id)
    response = Response(status_code=204)
    identity: Identity = request.state.identity
    identity.forget(response)
    return response
