"""Turning request bytes into typed values, or a 4xx that names the field that is wrong."""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from types import TracebackType
from typing import Any, TypeVar
from urllib.parse import parse_qsl

import msgspec
from starlette.requests import Request

from .decode_errors import UNKNOWN_FIELD, field_error
from .errors import ApiError
from .settings import Settings
from .store import InvalidInput

__all__ = [
    "check_length",
    "check_session_name",
    "decode_json",
    "decode_query",
    "invalid",
    "named_cursor",
    "page_size",
    "path_session_name",
    "path_uuid",
    "query_params",
    "reject_nul",
    "reject_query",
]

T = TypeVar("T")


def invalid(location: str, field: str | None, reason: str, **extra: Any) -> ApiError:
    """The 422 for one bad input: "<location> field `<field>`: <reason>", field in details."""
    where = f"{location} field `{field}`" if field else location
    details = {"location": location} | ({"field": field} if field else {}) | extra
    return ApiError(422, "invalid_request", f"{where}: {reason}", details)


def _invalid(location: str, error: msgspec.ValidationError) -> ApiError:
    """A 422 naming the field msgspec rejected."""
    field, reason = field_error(error)
    if reason == UNKNOWN_FIELD:
        reason = "unknown field (not part of this request)"
    return invalid(location, field, reason)


def reject_nul(value: Any, location: str) -> None:
    """422 when any string in the value (keys included) holds a NUL, which PostgreSQL refuses."""
    stack: list[tuple[str, Any]] = [("", msgspec.to_builtins(value))]
    while stack:
        path, item = stack.pop()
        if isinstance(item, str):
            if "\x00" in item:
                raise invalid(location, path, "contains a NUL character")
        elif isinstance(item, dict):
            for key, child in item.items():
                child_path = f"{path}.{key}" if path else str(key)
                stack.append((child_path, key))
                stack.append((child_path, child))
        elif isinstance(item, list):
            stack.extend((f"{path}[{index}]", child) for index, child in enumerate(item))


async def decode_json(request: Request, kind: type[T]) -> T:
    """The request body as ``kind``: 415 unless it is declared ``application/json`` (a
    browser's cross-site form cannot declare that), 400 for broken JSON, 422 else."""
    declared = request.headers.get("content-type")
    if declared is None or not declared.strip():
        raise ApiError(
            415,
            "unsupported_media_type",
            "the request has no Content-Type: send the JSON body with "
            "'Content-Type: application/json'",
        )
    media_type = declared.split(";")[0].strip().lower()
    if media_type != "application/json":
        raise ApiError(
            415,
            "unsupported_media_type",
            f"the request body must be application/json, not {media_type[:100]}",
        )
    body = await request.body()
    if not body.strip():
        raise ApiError(400, "invalid_json", "the request body is empty; send a JSON object")
    try:
        value = msgspec.json.decode(body, type=kind)
    except msgspec.ValidationError as error:
        raise _invalid("body", error) from error
    except (msgspec.DecodeError, UnicodeDecodeError) as error:
        raise ApiError(
            400, "invalid_json", f"the request body is not valid JSON: {error}"
        ) from error
    except RecursionError as error:
        raise ApiError(400, "invalid_json", "the request body is nested too deeply") from error
    reject_nul(value, "body")
    return value


def query_params(query_string: bytes) -> dict[str, str]:
    """The query string as Starlette's ``dict(request.query_params)`` has it (the last of
    repeated names wins, blank values kept), without its multidict; without parse_qsl when
    nothing in it is escaped."""
    if not query_string:
        return {}
    text = query_string.decode("latin-1")
    if "%" in text or "+" in text:
        return dict(parse_qsl(text, keep_blank_values=True))
    params = {}
    for pair in text.split("&"):
        if pair:
            name, _, value = pair.partition("=")
            params[name] = value
    return params


def decode_query(params: Mapping[str, str], kind: type[T]) -> T:
    """Query parameters as ``kind`` (strings converted to the declared types)."""
    try:
        value = msgspec.convert(params, kind, strict=False)
    except msgspec.ValidationError as error:
        raise _invalid("query", error) from error
    if any("\x00" in name or "\x00" in text for name, text in params.items()):
        reject_nul(value, "query")  # names the field
    return value


def reject_query(params: Mapping[str, str]) -> None:
    """422 for query parameters on a route that takes none (they would be ignored)."""
    for name in params:
        raise invalid("query", name, "unknown field (not part of this request)")


class _NamedCursor:
    """``named_cursor``: a class, not a generator, as the history read opens one."""

    __slots__ = ("_field",)

    def __init__(self, field: str) -> None:
        self._field = field

    def __enter__(self) -> None:
        return None

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if isinstance(error, InvalidInput):
            raise invalid("query", self._field, str(error)) from error


def named_cursor(field: str) -> _NamedCursor:
    """Name the query parameter when the store rejects a cursor (the only input it checks)."""
    return _NamedCursor(field)


def path_uuid(request: Request, name: str) -> uuid.UUID:
    """A UUID path parameter; 422 naming it when it is not one."""
    raw = request.path_params[name]
    try:
        return uuid.UUID(raw)
    except ValueError:
        raise invalid("path", name, "not a valid UUID") from None


def path_session_name(request: Request, name: str) -> str:
    """A path parameter naming a session as chat widgets do (one of the caller's session ids,
    or a key of the client's own): 1 to 255 characters, no control characters; 422 else."""
    return check_session_name(request.path_params[name], "path", name)


def check_session_name(value: str, location: str, field: str) -> str:
    """A session name (``schemas.SessionName``): 422 naming the field unless it is 1 to 255
    characters without a control character (U+0000 to U+001F, U+007F to U+009F)."""
    reason = "must be 1 to 255 printable characters (no control characters)"
    if not 1 <= len(value) <= 255 or _CONTROL.search(value):
        raise invalid(location, field, reason)
    return value


_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def page_size(raw: str | None, settings: Settings) -> int:
    """The ``limit`` query parameter (the default when absent); 422 unless 1..MAX_PAGE_SIZE."""
    if raw is None:
        return settings.default_page_size
    maximum = settings.max_page_size
    reason = f"must be a whole number between 1 and {maximum}"
    if not (raw.isascii() and raw.isdigit() and len(raw) <= 9):
        raise invalid("query", "limit", reason, maximum=maximum)
    limit = int(raw)
    if not 1 <= limit <= maximum:
        raise invalid("query", "limit", reason, maximum=maximum)
    return limit


def check_length(value: str, maximum: int, field: str) -> str:
    """413-free length limit for text fields: a 422 that says the limit."""
    if len(value) > maximum:
        reason = f"longer than {maximum} characters ({len(value)})"
        raise invalid("body", field, reason, maximum=maximum)
    return value
