"""Who am I: the caller's user, their external identities and how much they hold."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from .. import store
from ..json import json_response
from ..schemas import me_out
from ..usecases.accounts import Principal

__all__ = ["me"]


async def me(request: Request, *, user: Principal) -> Response:
    profile = await store.user_profile(request.state.db, user.user_id)
    return json_response(me_out(profile))
