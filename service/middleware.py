"""ASGI middleware: the client a trusted proxy forwarded; a request id and a structured log
line per request; request body limits."""

from __future__ import annotations

import os
import re
import time
from typing import Any, cast

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from . import logs
from .errors import ApiError, error_response

__all__ = ["BodyLimit", "ForwardedClient", "RequestContext"]


_CLIENT_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")
# No route reads a body sent with these, so none is limited: what the server buffers of one
# is bounded by its own flow control.
_UNREAD_BODY = frozenset({"GET", "HEAD", "OPTIONS"})


class ForwardedClient(ProxyHeadersMiddleware):
    """Behind trusted reverse proxies (TRUSTED_PROXIES), the request's client is the first
    untrusted hop of ``X-Forwarded-For`` (read from the right, so a client cannot choose it)
    and its scheme is ``X-Forwarded-Proto``; from any other peer those headers are ignored.
    Without TRUSTED_PROXIES the app leaves this out, and believes no forwarded header.

    uvicorn's ProxyHeadersMiddleware does the work. uvicorn's server applies it too unless
    started with ``proxy_headers=False`` (by default it trusts 127.0.0.1): serve with that
    off, so this is the one place forwarded headers are believed.
    """

    def __init__(self, app: ASGIApp, *, trusted_proxies: list[str]) -> None:
        super().__init__(cast(Any, app), trusted_hosts=trusted_proxies)


class RequestContext:
    """Gives each request an id (the client's X-Request-ID when sane), returns it as a
    header, and logs one structured line when the response is sent."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        offered = ""
        for name, value in scope["headers"]:
            if name == b"x-request-id":
                offered = value.decode("latin-1")
                break
        # 32 random hex digits, as uuid4().hex gives, for a third of its cost.
        request_id = offered if _CLIENT_REQUEST_ID.match(offered) else os.urandom(16).hex()
        state: dict[str, Any] = scope.setdefault("state", {})
        state["request_id"] = request_id
        serving = logs.request_id.set(request_id)
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message.setdefault("headers", [])
                message["headers"] = [
                    *message["headers"],
                    (b"x-request-id", request_id.encode()),
                ]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            user_id = state.get("user_id")
            logs.request_log.write(
                request_id=request_id,
                method=scope["method"],
                path=scope["path"],
                status=status,
                duration_ms=round((time.perf_counter() - started) * 1000, 2),
                user_id=None if user_id is None else str(user_id),
            )
            logs.request_id.reset(serving)


class BodyLimit:
    """413 for request bodies over the limit: at once from Content-Length, or while reading.

    Document uploads (POST /documents) get their own, larger limit.
    """

    def __init__(self, app: ASGIApp, *, max_body_bytes: int, max_upload_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.max_upload_bytes = max_upload_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in _UNREAD_BODY:
            await self.app(scope, receive, send)
            return
        upload = scope["method"] == "POST" and scope["path"].rstrip("/") == "/documents"
        limit = self.max_upload_bytes if upload else self.max_body_bytes
        too_large = ApiError(
            413,
            "payload_too_large",
            f"the request body is larger than the limit of {limit} bytes",
            {"limit": limit},
        )
        declared = Headers(scope=scope).get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await error_response(too_large)(scope, receive, send)
            return
        received = 0

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise too_large
            return message

        await self.app(scope, counting_receive, send)
