"""The one error type of the API, and the handlers that turn every failure into its JSON form.

Every error answer is ``{"error": {"code", "message", "details"?}}``. Expected failures
raise ApiError, or a store or use-case error, mapped here once; a database that cannot be
reached is a 503 with ``Retry-After``; anything else is logged and answered as a 500
without details.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import msgspec
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ExceptionHandler

from .json import json_response
from .rag.extract import UnsupportedDocument
from .store import UNAVAILABLE, Conflict, InvalidInput, NotFound, StoreError
from .usecases.accounts import InvalidCredential
from .usecases.chat import TurnFailed, TurnInProgress
from .usecases.documents import UrlRefused
from .usecases.limits import RateLimited

__all__ = ["ApiError", "ErrorBody", "error_for", "exception_handlers", "turn_failure"]

log = logging.getLogger("service")


class ErrorDetail(msgspec.Struct, frozen=True, omit_defaults=True):
    code: str
    message: str
    details: dict[str, Any] | None = None


class ErrorBody(msgspec.Struct, frozen=True):
    """The body of every 4xx and 5xx answer."""

    error: ErrorDetail


class ApiError(Exception):
    """An expected failure, answered with ``status`` and a message that says what is wrong."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        details: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details
        self.headers = headers


def error_response(error: ApiError) -> Response:
    body = ErrorBody(ErrorDetail(error.code, error.message, error.details))
    return json_response(body, status=error.status, headers=error.headers)


_STORE_STATUS: dict[type[StoreError], int] = {NotFound: 404, Conflict: 409, InvalidInput: 422}

_HTTP_CODES = {
    400: "bad_request",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    415: "unsupported_media_type",
}


async def _api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    if isinstance(exc.__cause__, StoreError):  # a store error the HTTP layer named a field for
        _log_cause(request, exc.__cause__)
    return error_response(exc)


def _logged_with(request: Request) -> dict[str, Any]:
    """The ``extra`` of a log line about this request: its id, which the client also got."""
    return {"request_id": getattr(request.state, "request_id", None)}


def _log_cause(request: Request, error: StoreError) -> None:
    """PostgreSQL's (or asyncpg's) own words about a store error: for the log, not the client."""
    cause = error.__cause__
    if cause is not None:
        log.info("%s: %s: %s", error.code, type(cause).__name__, cause, extra=_logged_with(request))


async def _store_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StoreError)
    _log_cause(request, exc)
    return error_response(ApiError(_STORE_STATUS.get(type(exc), 400), exc.code, str(exc)))


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    code = _HTTP_CODES.get(exc.status_code, "http_error")
    headers = None if exc.headers is None else dict(exc.headers)
    return error_response(ApiError(exc.status_code, code, exc.detail, headers=headers))


def turn_failure(
    failure: TurnFailed, *, retry_after: int, request_id: str | None = None
) -> ApiError:
    """503 when a retry of the turn answers it again (the index, the model or the database
    was unavailable), else 502: the turn failed for good.

    The message says so in our words; the failure's reason (a provider's or driver's own
    text) goes to the log, with the request id when given.
    """
    log.warning("answer failed: %s", failure.reason, extra={"request_id": request_id})
    details = failure.ids | {"saved": failure.saved}
    if failure.token is not None:
        # The failed turn belongs to a new user: a retry with the same client_message_id
        # finds it only with this credential.
        details["token"] = failure.token
    if failure.retrieval:
        return ApiError(
            503,
            "retrieval_unavailable",
            "the document index cannot be searched; retry shortly",
            details,
            headers={"Retry-After": str(retry_after)},
        )
    if failure.transient:
        return ApiError(
            503,
            "answer_unavailable",
            "the answer could not be generated now; retry shortly",
            details,
            headers={"Retry-After": str(retry_after)},
        )
    message = "the answer could not be generated: the language model could not answer"
    return ApiError(502, "answer_failed", message, details)


async def _turn_failed(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, TurnFailed)
    retry_after = request.app.state.settings.retry_after_seconds
    request_id = _logged_with(request)["request_id"]
    return error_response(turn_failure(exc, retry_after=retry_after, request_id=request_id))


async def _turn_in_progress(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, TurnInProgress)
    error = ApiError(409, "turn_in_progress", str(exc), exc.ids, headers={"Retry-After": "1"})
    return error_response(error)


async def _invalid_credential(request: Request, exc: Exception) -> Response:
    headers = {"WWW-Authenticate": "Bearer"}
    response = error_response(ApiError(401, "unauthorized", str(exc), headers=headers))
    identity = getattr(request.state, "identity", None)
    if identity is not None and "authorization" not in request.headers:
        # The cookie named no one (expired, revoked): a page cannot remove an HttpOnly
        # cookie itself, and would otherwise send it, and be refused, until it expires.
        identity.forget(response)
    return response


async def _unsupported_document(request: Request, exc: Exception) -> Response:
    return error_response(ApiError(415, "unsupported_media_type", str(exc)))


async def _url_refused(request: Request, exc: Exception) -> Response:
    details = {"location": "body", "field": "url"}
    return error_response(ApiError(422, "invalid_request", f"body field `url`: {exc}", details))


async def _rate_limited(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RateLimited)
    details = {"limit": exc.quota.limit, "window_seconds": exc.quota.window_seconds}
    headers = {"Retry-After": str(exc.retry_after)}
    return error_response(ApiError(429, "rate_limited", str(exc), details, headers=headers))


async def _database_unavailable(request: Request, exc: Exception) -> Response:
    log.warning(
        "database unavailable: %s: %s", type(exc).__name__, exc, extra=_logged_with(request)
    )
    retry_after = request.app.state.settings.retry_after_seconds
    return error_response(
        ApiError(
            503,
            "database_unavailable",
            "the database cannot be reached; retry shortly",
            headers={"Retry-After": str(retry_after)},
        )
    )


async def _unexpected(request: Request, exc: Exception) -> Response:
    log.exception("unhandled error", exc_info=exc, extra=_logged_with(request))
    return error_response(ApiError(500, "internal_error", "internal server error"))


HttpHandler = Callable[[Request, Exception], Awaitable[Response]]


@functools.cache
def _handlers() -> dict[type[Exception], HttpHandler]:
    handlers: dict[type[Exception], HttpHandler] = {
        ApiError: _api_error,
        StoreError: _store_error,
        HTTPException: _http_error,
        TurnFailed: _turn_failed,
        TurnInProgress: _turn_in_progress,
        InvalidCredential: _invalid_credential,
        UnsupportedDocument: _unsupported_document,
        UrlRefused: _url_refused,
        RateLimited: _rate_limited,
        Exception: _unexpected,
    }
    handlers.update(dict.fromkeys(UNAVAILABLE, _database_unavailable))
    return handlers


def exception_handlers() -> dict[Any, ExceptionHandler]:
    return dict(_handlers())


async def error_for(request: Request, exc: Exception) -> Response:
    """The answer the app's exception handlers give ``exc``, for a caller that reshapes it
    (the OpenAI-compatible routes)."""
    handlers = _handlers()
    for kind in type(exc).__mro__:
        handler = handlers.get(kind)
        if handler is not None:
            return await handler(request, exc)
    raise exc  # not an Exception: never reached
