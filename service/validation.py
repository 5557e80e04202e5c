"""Turning request bytes into typed values, or a 4xx that names the field that is wrong."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any, TypeVar

import msgspec
from starlette.requests import Request

from .errors import ApiError
from .store import InvalidInput

__all__ = [
    "check_length",
    "check_page_size",
    "decode_json",
    "decode_query",
    "named_cursor",
    "path_uuid",
    "reject_nul",
    "reject_query",
]

T = TypeVar("T")

_AT_PATH = re.compile(r"^(?P<reason>.*) - at `\$(?P<path>[^`]*)`$", re.DOTALL)
_UNKNOWN_FIELD = re.compile(r"^Object contains unknown field `(?P<field>[^`]*)`$")


def _invalid(location: str, error: msgspec.ValidationError) -> ApiError:
    """A 422 naming the field from msgspec's "<reason> - at `$.field`" message."""
    reason, field = str(error), ""
    if match := _AT_PATH.match(reason):
        reason, field = match["reason"], match["path"].lstrip(".")
    if match := _UNKNOWN_FIELD.match(reason):
        field = ".".join(part for part in (field, match["field"]) if part)
        reason = "unknown field (not part of this request)"
    where = f"{location} field `{field}`" if field else location
    details = {"location": location} | ({"field": field} if field else {})
    return ApiError(422, "invalid_request", f"{where}: {reason}", details)


def reject_nul(value: Any, location: str) -> None:
    """422 when any string in the value (keys included) holds a NUL, which PostgreSQL refuses."""
    stack: list[tuple[str, Any]] = [("", msgspec.to_builtins(value))]
    while stack:
        path, item = stack.pop()
        if isinstance(item, str):
            if "\x00" in item:
                where = f"{location} field `{path}`" if path else location
                details = {"location": location, "field": path}
                raise ApiError(
                    422, "invalid_request", f"{where}: contains a NUL character", details
                )
        elif isinstance(item, dict):
            for key, child in item.items():
                child_path = f"{path}.{key}" if path else str(key)
                stack.append((child_path, key))
                stack.append((child_path, child))
        elif isinstance(item, list):
            stack.extend((f"{path}[{index}]", child) for index, child in enumerate(item))


async def decode_json(request: Request, kind: type[T]) -> T:
    """The request body as ``kind``: 415 for another media type, 400 for broken JSON, 422 else."""
    media_type = request.headers.get("content-type", "application/json").split(";")[0].strip()
    if media_type.lower() not in ("application/json", ""):
        raise ApiError(415, "unsupported_media_type", "the request body must be application/json")
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


def decode_query(params: Mapping[str, str], kind: type[T]) -> T:
    """Query parameters as ``kind`` (strings converted to the declared types)."""
    try:
        value = msgspec.convert(dict(params), kind, strict=False)
    except msgspec.ValidationError as error:
        raise _invalid("query", error) from error
    reject_nul(value, "query")
    return value


def reject_query(params: Mapping[str, str]) -> None:
    """422 for query parameters on a route that takes none (they would be ignored)."""
    for name in params:
        details = {"location": "query", "field": name}
        message = f"query field `{name}`: unknown field (not part of this request)"
        raise ApiError(422, "invalid_request", message, details)


@contextmanager
def named_cursor(field: str) -> Iterator[None]:
    """Name the query parameter when the store rejects a cursor (the only input it checks)."""
    try:
        yield
    except InvalidInput as error:
        details = {"location": "query", "field": field}
        raise ApiError(
            422, "invalid_request", f"query field `{field}`: {error}", details
        ) from error


def path_uuid(request: Request, name: str) -> uuid.UUID:
    """A UUID path parameter; 422 naming it when it is not one."""
    raw = request.path_params[name]
    try:
        return uuid.UUID(raw)
    except ValueError:
        details = {"location": "path", "field": name}
        raise ApiError(
            422, "invalid_request", f"path `{name}`: not a valid UUID", details
        ) from None


def check_page_size(limit: int, maximum: int, field: str = "limit") -> int:
    if not 1 <= limit <= maximum:
        raise ApiError(
            422,
            "invalid_request",
            f"query field `{field}`: must be between 1 and {maximum}",
            {"location": "query", "field": field, "maximum": maximum},
        )
    return limit


def check_length(value: str, maximum: int, field: str) -> str:
    """413-free length limit for text fields: a 422 that says the limit."""
    if len(value) > maximum:
        raise ApiError(
            422,
            "invalid_request",
            f"body field `{field}`: longer than {maximum} characters ({len(value)})",
            {"location": "body", "field": field, "maximum": maximum},
        )
    return value
