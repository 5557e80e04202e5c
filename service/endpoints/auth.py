"""Credentials: revoke the one a request presents (anonymous users get theirs from /chat)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from ..identity import Identity, require_user

__all__ = ["logout"]


async def logout(request: Request) -> Response:
    """Revoke the presented credential; later requests with it answer 401."""
    principal = await require_user(request)
    identity: Identity = request.state.identity
    await identity.sign_out(request, principal)
    response = Response(status_code=204)
    identity.forget(response)
    return response
