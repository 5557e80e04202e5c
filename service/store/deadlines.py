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
import math
import weakref
from collections.abc import Callable
from contextvars import ContextVar, Token
from types import TracebackType

__all__ = ["Budget", "DeadlineExceeded", "current_budget", "deadline", "leaves"]


class DeadlineExceeded(TimeoutError):
    """The request's store budget ran out. A TimeoutError, so an OSError, so one of
    UNAVAILABLE: answered 503 with Retry-After, and never retried by the store."""


class Budget:
    """The budget a ``deadline`` opened: when it ends, and what its store calls wait on.

    At the end of the budget each waiting store call's ``on_expiry`` runs (cancel the wait for
    a pool connection, close the connection under a statement) and the budget is marked
    ``expired``. The budgets of an event loop share one timer (``_Watchdog``): a timer of
    their own per call, and asyncio.timeout's object for the pool wait, cost a read request
    about as much as its JSON (issue 14).
    """

    __slots__ = ("_waiting", "_watchdog", "at", "expired")

    def __init__(self, at: float, watchdog: _Watchdog) -> None:
        self.at = at  # on the event loop's clock
        self.expired = False
        self._watchdog = watchdog
        self._waiting: list[Callable[[], object]] = []

    def watch(self, on_expiry: Callable[[], object]) -> None:
        if not self._waiting:
            self._watchdog.add(self)
        self._waiting.append(on_expiry)

    def unwatch(self, on_expiry: Callable[[], object]) -> None:
        self._waiting.remove(on_expiry)
        if not self._waiting:
            self._watchdog.discard(self)

    def expire(self) -> None:
        self.expired = True
        for on_expiry in list(self._waiting):
            on_expiry()


class _Watchdog:
    """The budgets of one event loop that store calls wait on, and one timer, at the end of
    the first of them: a request that finishes in time only adds and removes its budget."""

    # A timer may run up to the loop's clock resolution early; a budget ending that soon is due.
    EARLY = 0.001

    __slots__ = ("_budgets", "_loop", "_timer", "_when")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._budgets: set[Budget] = set()
        self._timer: asyncio.TimerHandle | None = None
        self._when = math.inf

    def add(self, budget: Budget) -> None:
        self._budgets.add(budget)
        if budget.at < self._when:
            if self._timer is not None:
                self._timer.cancel()
            self._when = budget.at
            self._timer = self._loop.call_at(budget.at, self._fire)

    def discard(self, budget: Budget) -> None:
        self._budgets.discard(budget)

    def _fire(self) -> None:
        self._timer, self._when = None, math.inf
        now = self._loop.time() + self.EARLY
        for budget in [budget for budget in self._budgets if budget.at <= now]:
            self._budgets.discard(budget)
            budget.expire()
        if self._budgets:
            first = min(budget.at for budget in self._budgets)
            self._when, self._timer = first, self._loop.call_at(first, self._fire)


_watchdogs: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Watchdog] = (
    weakref.WeakKeyDictionary()
)


def _watchdog(loop: asyncio.AbstractEventLoop) -> _Watchdog:
    watchdog = _watchdogs.get(loop)
    if watchdog is None:
        watchdog = _watchdogs[loop] = _Watchdog(loop)
    return watchdog


# The current budget; None: none.
_budget: ContextVar[Budget | None] = ContextVar("store_deadline", default=None)


class _Deadline:
    """``deadline``: a class, not a generator, as every request opens one (a third of the
    cost)."""

    __slots__ = ("_budget", "_seconds", "_token")
    _token: Token[Budget | None]

    def __init__(self, seconds: float | None) -> None:
        self._seconds = seconds
        self._budget: Budget | None = None

    def __enter__(self) -> None:
        seconds = self._seconds
        if seconds is not None:
            loop = asyncio.get_running_loop()
            self._budget = Budget(loop.time() + seconds, _watchdog(loop))
        self._token = _budget.set(self._budget)

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        _budget.reset(self._token)


def deadline(seconds: float | None) -> _Deadline:
    """Store calls inside finish within ``seconds`` from now (None: no budget). It replaces
    an enclosing deadline rather than shortening it: a chat turn's answer may take longer than
    a budget, and the write that follows it gets a budget of its own."""
    return _Deadline(seconds)


def current_budget() -> Budget | None:
    """The budget the current store call runs under; None when there is none."""
    return _budget.get()


def leaves(seconds: float) -> bool:
    """Whether the current budget still has ``seconds`` left (always, without a budget)."""
    budget = _budget.get()
    return budget is None or asyncio.get_running_loop().time() + seconds < budget.at
