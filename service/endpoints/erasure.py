"""DELETE /me: erase the caller and everything they own (usecases/erasure.py).

204 when all of it is gone, vector points included; 202 when the rows are gone but the
vector store could not be reached: the points' deletion is a durable job that the worker
retries until it succeeds. Either way the credential is gone and the cookie is cleared.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from ..identity import Identity
from ..usecases.accounts import Principal
from ..usecases.erasure import Erasure

__all__ = ["delete_me"]


async def delete_me(request: Request, *, user: Principal) -> Response:
    erasure: Erasure = request.state.erasure
    done = await erasure.erase(user.user_id, request_id=request.state.request_id)
    response = Response(status_code=204 if done else 202)
    identity: Identity = request.state.identity
    identity.forget(response)
    return response
