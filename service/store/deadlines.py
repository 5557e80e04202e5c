"""Deadlines: one time budget for all the store work of a request, instead of one per statement.

A caller opens ``deadline(seconds)``; every store call made inside it (in the same task, or a
task started inside it) then finishes by that time, pool acquisition, statements, retries and
their backoff together, or raises DeadlineExceeded. With PostgreSQL frozen, a request answers
503 once its budget is spent, not after each of its statements has waited out its own
DB_COMMAND_TIMEOUT behind the others in the pool's queue.

Without a deadline (the ingestion worker, the command line), statements are bounded by
DB_COMMAND_TIMEOUT alone.
"""

from __future__ import annotations

import asyncio
from contextvars import ContextVar, Token
from types import TracebackType

__all__ = ["DeadlineExceeded", "deadline", "expires_at", "leaves"]


class DeadlineExceeded(TimeoutError):
    """The request's store budget ran out. A TimeoutError, so an OSError, so one of
    UNAVAILABLE: answered 503 with Retry-After, and never retried by the store."""


# The event loop's clock (monotonic) when the current budget ends; None: no budget.
_expires_at: ContextVar[float | None] = ContextVar("store_deadline", default=None)


class _Deadline:
    """``deadline``: a class, not a generator, as every request opens one (a third of the
    cost)."""

    __slots__ = ("_seconds", "_token")
    _token: Token[float | None]

    def __init__(self, seconds: float | None) -> None:
        self._seconds = seconds

    def __enter__(self) -> None:
        seconds = self._seconds
        at = None if seconds is None else asyncio.get_running_loop().time() + seconds
        self._token = _expires_at.set(at)

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        _expires_at.reset(self._token)


def deadline(seconds: float | None) -> _Deadline:
    """Store calls inside finish within ``seconds`` from now (None: no budget). It replaces
    an enclosing deadline rather than shortening it: a chat turn's answer may take longer than
    a budget, and the write that follows it gets a budget of its own."""
    return _Deadline(seconds)


def expires_at() -> float | None:
    """When the current budget ends, on the event loop's clock; None when there is none."""
    return _expires_at.get()


def leaves(seconds: float) -> bool:
    """Whether the current budget still has ``seconds`` left (always, without a budget)."""
    at = _expires_at.get()
    return at is None or asyncio.get_running_loop().time() + seconds < at
