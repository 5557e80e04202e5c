"""Page cursors: the position of a page's last row, written as a query string carries it.

A position's fields joined by ``.``: a timestamp as microseconds since the Unix epoch, a
UUID as 32 lowercase hex digits, a sequence number (positive) in decimal, a float (a search
rank) as the 16 hex digits of its IEEE 754 bits (it comes back exactly). A session's
cursor reads ``1764633600123456.5f0c2a8e6b4f4a579d0e3f6c2a8b7e51``, a message's ``42``.
Every string of that shape is a position a listing can start from (schemas.py describes
the shapes in /openapi.json): a client that builds one still pages only through its own
rows, so cursors need a shape, not secrecy.
"""

from __future__ import annotations

import datetime
import re
import struct
import uuid
from typing import Annotated, TypeVar, get_args, get_origin

import msgspec

from .errors import InvalidInput

__all__ = ["decode_cursor", "encode_cursor"]

CursorT = TypeVar("CursorT", bound=msgspec.Struct)

_EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.UTC)
_MICROSECOND = datetime.timedelta(microseconds=1)

# The shape of each field type. The bounds keep every match a value that both Python and
# PostgreSQL take: times from the year 1653 to 5138, sequence numbers below 2**63.
_SHAPES: dict[type, re.Pattern[str]] = {
    datetime.datetime: re.compile(r"-?[0-9]{1,16}|[0-9]{17}"),
    uuid.UUID: re.compile(r"[0-9a-f]{32}"),
    int: re.compile(r"[1-9][0-9]{0,17}"),
    float: re.compile(r"[0-9a-f]{16}"),
}


def _field_types(kind: type[msgspec.Struct]) -> list[type]:
    types = []
    for field in msgspec.structs.fields(kind):
        annotation = field.type
        if get_origin(annotation) is Annotated:
            annotation = get_args(annotation)[0]
        types.append(annotation)
    return types


def _text(value: object) -> str:
    if isinstance(value, datetime.datetime):
        return str((value - _EPOCH) // _MICROSECOND)
    if isinstance(value, uuid.UUID):
        return value.hex
    if isinstance(value, float):
        return struct.pack(">d", value).hex()
    return str(value)


def _value(kind: type, text: str) -> object:
    if kind is datetime.datetime:
        return _EPOCH + int(text) * _MICROSECOND
    if kind is uuid.UUID:
        return uuid.UUID(hex=text)
    if kind is float:
        return float(struct.unpack(">d", bytes.fromhex(text))[0])
    return int(text)


def encode_cursor(position: msgspec.Struct) -> str:
    """The cursor a client sends back to get the page after ``position``."""
    return ".".join(_text(value) for value in msgspec.structs.astuple(position))


def decode_cursor(cursor: str, kind: type[CursorT]) -> CursorT:
    """The position a cursor encodes; InvalidInput for anything not of the cursor's shape."""
    types = _field_types(kind)
    texts = cursor.split(".")
    if len(texts) != len(types) or not all(
        _SHAPES[field_type].fullmatch(text) for field_type, text in zip(types, texts, strict=True)
    ):
        raise InvalidInput("invalid cursor")
    values = [_value(field_type, text) for field_type, text in zip(types, texts, strict=True)]
    try:
        return msgspec.convert(values, kind)
    except msgspec.ValidationError as error:
        raise InvalidInput("invalid cursor") from error
