"""The one error type of the API, and the handlers that turn every failure into its JSON form.

Every error answer is ``{"error": {"code", "message", "details"?}}``. Expected failures
raise ApiError, or a store or use-case error, mapped here once; a database that cannot be
reached is a 503 with ``Retry-After``; anything else is logged and answered as a 500
without details.
"""

from __future__ import annotations

import logging
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

__all__ = ["ApiError", "ErrorBody", "exception_handlers", "turn_failure"]

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
    return error_response(exc)


async def _store_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StoreError)
    return error_response(ApiError(_STORE_STATUS.get(type(exc), 400), exc.code, str(exc)))


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    code = _HTTP_CODES.get(exc.status_code, "http_error")
    headers = None if exc.headers is None else dict(exc.headers)
    return error_response(ApiError(exc.status_code, code, exc.detail, headers=headers))


def turn_failure(failure: TurnFailed, *, retry_after: int) -> ApiError:
    """503 when a retry of the turn answers it again (the index, the model or the database
    was unavailable), else 502: the turn failed for good."""
    details = failure.ids | {"saved": failure.saved}
    if failure.token is not None:
        # The failed turn belongs to a new user: a retry with the same client_message_id
        # finds it only with this credential.
        details["token"] = failure.token
    if failure.retrieval:
        return ApiError(
            503,
            "retrieval_unavailable",
            f"the document index cannot be searched; retry shortly ({failure.reason})",
            details,
            headers={"Retry-After": str(retry_after)},
        )
    if failure.transient:
        return ApiError(
            503,
            "answer_unavailable",
            f"the answer could not be generated now; retry shortly ({failure.reason})",
            details,
            headers={"Retry-After": str(retry_after)},
        )
    message = f"the answer could not be generated: {failure.reason}"
    return ApiError(502, "answer_failed", message, details)


async def _turn_failed(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, TurnFailed)
    retry_after = request.app.state.settings.retry_after_seconds
    return error_response(turn_failure(exc, retry_after=retry_after))


async def _turn_in_progress(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, TurnInProgress)
    error = ApiError(409, "turn_in_progress", str(exc), exc.ids, headers={"Retry-After": "1"})
    return error_response(error)


async def _invalid_credential(request: Request, exc: Exception) -> Response:
    headers = {"WWW-Authenticate": "Bearer"}
    return error_response(ApiError(401, "unauthorized", str(exc), headers=headers))


async def _unsupported_document(request: Request, exc: Exception) -> Response:
    return error_response(ApiError(415, "unsupported_media_type", str(exc)))


async def _url_refused(request: Request, exc: Exception) -> Response:
    details = {"location": "body", "field": "url"}
    return error_response(ApiError(422, "invalid_request", f"body field `url`: {exc}", details))


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
        TurnFailed: _turn_failed,
        TurnInProgress: _turn_in_progress,
        InvalidCredential: _invalid_credential,
        UnsupportedDocument: _unsupported_document,
        UrlRefused: _url_refused,
        Exception: _unexpected,
    }
    handlers.update(dict.fromkeys(UNAVAILABLE, _database_unavailable))
    return handlers
