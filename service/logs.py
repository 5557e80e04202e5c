"""Structured logs: one JSON object per line on stderr, with the fields passed as ``extra``,
and the id of the request being served (``request_id``) on every line logged while serving it.

The request line, one per request, is written by ``RequestLog`` straight to the stream
``configure_logging`` set up: a stdlib record, its filters and the formatter cost about 190
µs of CPU per request, the service's single largest cost on a history read
(tests/bench/RESULTS.md). Without ``configure_logging`` (tests, an app embedded elsewhere)
it goes through the ``service.requests`` logger like any other line.
"""

from __future__ import annotations

import datetime
import logging
import sys
from contextvars import ContextVar
from typing import Any, TextIO

import msgspec

__all__ = ["JsonFormatter", "RequestLine", "configure_logging", "request_id", "request_log"]

# Set by middleware.RequestContext for the request's task (and the tasks it starts).
request_id: ContextVar[str | None] = ContextVar("request_id", default=None)

# Attributes every LogRecord has; anything else on a record came in through ``extra``.
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message",
    "asctime",
    "color_message",  # uvicorn's ANSI-coloured copy of the message
}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.datetime.fromtimestamp(record.created, datetime.UTC).isoformat(),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        serving = request_id.get()
        if serving is not None:
            entry["request_id"] = serving
        entry.update((key, value) for key, value in vars(record).items() if key not in _STANDARD)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        # str() for whatever a caller put in ``extra`` that JSON cannot hold.
        return msgspec.json.encode(entry, enc_hook=str).decode()


class RequestLine(msgspec.Struct, kw_only=True):
    """The request line's fields, in the order JsonFormatter writes a line's."""

    time: str
    level: str = "info"
    logger: str = "service.requests"
    message: str = "request"
    request_id: str
    method: str
    path: str
    status: int
    duration_ms: float
    user_id: str | None


class RequestLog:
    def __init__(self) -> None:
        self._stream: TextIO | None = None
        self._enabled = True
        self._encoder = msgspec.json.Encoder()
        self._logger = logging.getLogger("service.requests")

    @property
    def enabled(self) -> bool:
        return self._enabled

    def write_to(self, stream: TextIO | None, *, enabled: bool = True) -> None:
        """Write request lines to ``stream`` directly (None: through the logger), or none."""
        self._stream = stream
        self._enabled = enabled

    def write(
        self,
        *,
        request_id: str,
        method: str,
        path: str,
        status: int,
        duration_ms: float,
        user_id: str | None,
    ) -> None:
        if not self._enabled:
            return
        stream = self._stream
        if stream is None:
            self._logger.info(
                "request",
                extra={
                    "request_id": request_id,
                    "method": method,
                    "path": path,
                    "status": status,
                    "duration_ms": duration_ms,
                    "user_id": user_id,
                },
            )
            return
        line = RequestLine(
            time=datetime.datetime.now(datetime.UTC).isoformat(),
            request_id=request_id,
            method=method,
            path=path,
            status=status,
            duration_ms=duration_ms,
            user_id=user_id,
        )
        stream.write(self._encoder.encode(line).decode() + "\n")


request_log = RequestLog()


def configure_logging(level: str) -> None:
    """JSON lines for the service's loggers and uvicorn's; uvicorn's access log is replaced by
    the service's own request log (which carries the request id)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
    logging.getLogger("uvicorn.access").disabled = True
    # The request line is at INFO: above it, there is none.
    request_log.write_to(sys.stderr, enabled=root.isEnabledFor(logging.INFO))
