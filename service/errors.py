"""The one error type of the API, and the handlers that turn every failure into its JSON form.

Every error answer is ``{"error": {"code", "message", "details"?}}``. Expected failures
raise ApiError (or a store error, mapped here); a database that cannot be reached is a
503 with ``Retry-After``; anything else is logged and answered as a 500 without details.
"""

from __future__ import annotations

import logging
from typing import Any

import asyncpg
import msgspec
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ExceptionHandler

from .json import json_response
from .store import Conflict, InvalidInput, NotFound, StoreError

__all__ = ["DATABASE_UNAVAILABLE", "ApiError", "ErrorBody", "exception_handlers"]

log = logging.getLogger("service")

# Failures that mean "PostgreSQL cannot be reached right now" once the store's own bounded
# retries are spent. OSError covers refused and reset sockets and TimeoutError.
DATABASE_UNAVAILABLE: tuple[type[Exception], ...] = (
    asyncpg.PostgresConnectionError,
    asyncpg.CannotConnectNowError,
    asyncpg.AdminShutdownError,
    asyncpg.TooManyConnectionsError,
    OSError,
)


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
    return error_response(exc)


async def _store_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StoreError)
    return error_response(ApiError(_STORE_STATUS.get(type(exc), 400), exc.code, str(exc)))


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    code = _HTTP_CODES.get(exc.status_code, "http_error")
    headers = None if exc.headers is None else dict(exc.headers)
    return error_response(ApiError(exc.status_code, code, exc.detail, headers=headers))


async def _database_unavailable(request: Request, exc: Exception) -> Response:
    log.warning("database unavailable: %s: %s", type(exc).__name__, exc)
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
    log.exception("unhandled error", exc_info=exc)
    return error_response(ApiError(500, "internal_error", "internal server error"))


def exception_handlers() -> dict[Any, ExceptionHandler]:
    handlers: dict[Any, ExceptionHandler] = {
        ApiError: _api_error,
        StoreError: _store_error,
        HTTPException: _http_error,
        Exception: _unexpected,
    }
    handlers.update(dict.fromkeys(DATABASE_UNAVAILABLE, _database_unavailable))
    return handlers
