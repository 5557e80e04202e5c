"""The one JSON encoder: msgspec, which encodes the generated models and API Structs directly."""

from __future__ import annotations

from typing import Any

import msgspec
from starlette.responses import Response

__all__ = ["encode", "json_response"]

_encoder = msgspec.json.Encoder()


def encode(value: Any) -> bytes:
    return _encoder.encode(value)


def json_response(
    value: Any, *, status: int = 200, headers: dict[str, str] | None = None
) -> Response:
    return Response(encode(value), status, headers, media_type="application/json")
