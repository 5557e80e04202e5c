"""Opaque page cursors: urlsafe base64 of a small JSON array."""

from __future__ import annotations

import base64
from typing import TypeVar

import msgspec

from .errors import InvalidInput

__all__ = ["decode_cursor", "encode_cursor"]

CursorT = TypeVar("CursorT", bound=msgspec.Struct)


def encode_cursor(position: msgspec.Struct) -> str:
    """The cursor a client sends back to get the page after ``position``."""
    return base64.urlsafe_b64encode(msgspec.json.encode(position)).rstrip(b"=").decode()


def decode_cursor(cursor: str, kind: type[CursorT]) -> CursorT:
    """The position a cursor encodes; InvalidInput for anything this store did not write."""
    try:
        data = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        return msgspec.json.decode(data, type=kind)
    except (ValueError, msgspec.DecodeError) as error:  # binascii.Error is a ValueError
        raise InvalidInput("invalid cursor") from error
