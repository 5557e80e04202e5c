"""Structured logs: one JSON object per line on stderr, with the fields passed as ``extra``,
and the id of the request being served (``request_id``) on every line logged while serving it."""

from __future__ import annotations

import datetime
import logging
import sys
from contextvars import ContextVar
from typing import Any

import msgspec

__all__ = ["JsonFormatter", "configure_logging", "request_id"]

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
