"""The store's named errors, and the one place PostgreSQL errors become them.

Two questions are answered here, once: which failures mean "PostgreSQL cannot be reached
right now" (UNAVAILABLE, and ``connection_lost`` for the shapes that only say so together
with the state of their connection), and what a client may be told about a failure it
caused (the message of NotFound, Conflict and InvalidInput: our words, never the
driver's; the driver's error stays chained as ``__cause__`` for the log).
"""

from __future__ import annotations

from types import TracebackType
from typing import ClassVar

import asyncpg

__all__ = [
    "STATEMENT_CACHE_ERRORS",
    "UNAVAILABLE",
    "Conflict",
    "ConnectionLost",
    "InvalidInput",
    "NotFound",
    "StoreError",
    "connection_lost",
    "mapped_errors",
]


class ConnectionLost(Exception):
    """The connection broke during a store operation, or can no longer be used (see
    ``connection_lost``); a connection the store took from the pool is discarded, never
    returned to it. The message names the driver's error, for the log."""


# "PostgreSQL cannot be reached right now": the one classification. The store retries these
# (tx.RETRYABLE); once its retries are spent, callers answer 503 or carry on without the
# database. OSError covers refused and reset sockets and TimeoutError.
UNAVAILABLE: tuple[type[Exception], ...] = (
    ConnectionLost,  # every other lost-connection shape, as the store reports it
    asyncpg.PostgresConnectionError,  # class 08: ConnectionDoesNotExistError, ...
    asyncpg.CannotConnectNowError,  # 57P03: the server is starting
    asyncpg.AdminShutdownError,  # 57P01: the server is restarting
    asyncpg.CrashShutdownError,  # 57P02: another backend crashed, this one is reset
    asyncpg.TooManyConnectionsError,  # 53300
    OSError,
)

# A named prepared statement the connection cached is missing on the server it reaches, or
# one of the same name is there already: a pooler (PgBouncer in transaction mode) moves the
# connection between server processes. DB_STATEMENT_CACHE_SIZE=0 is the fix.
STATEMENT_CACHE_ERRORS: tuple[type[Exception], ...] = (
    asyncpg.InvalidSQLStatementNameError,  # 26000
    asyncpg.DuplicatePreparedStatementError,  # 42P05
)


def connection_lost(error: BaseException, *, closed: bool) -> bool:
    """Whether ``error``, raised while using a connection that is now ``closed`` (or not),
    means that connection is gone or unusable, so that the work may run again on another.

    asyncpg reports a lost connection in several shapes besides class 08: an
    InterfaceError ("connection is closed"), an InternalClientError ("cannot switch to
    state 12; another operation (2) is in progress", seen after a kill -9 of PostgreSQL),
    or an error about something else (a failed rollback) whose cause was the loss. Those
    shapes also come from misuse, so they count only once the connection is closed. A
    statement cache out of step with the server (STATEMENT_CACHE_ERRORS) makes the
    connection unusable too: another one, with an empty cache, may well succeed.
    """
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, UNAVAILABLE + STATEMENT_CACHE_ERRORS):
            return True
        if closed and isinstance(current, asyncpg.InterfaceError | asyncpg.InternalClientError):
            return True
        current = current.__cause__ or current.__context__
    return False


class StoreError(Exception):
    """An expected failure of a store operation; ``code`` names it for the HTTP layer.

    The message says what is wrong in words a client can act on; it never carries the
    driver's text (that is the chained ``__cause__``, which the HTTP layer logs).
    """

    code: ClassVar[str] = "store_error"


class NotFound(StoreError):
    """The object does not exist, or belongs to another user (never told apart)."""

    code = "not_found"


class Conflict(StoreError):
    """The object exists already, or is not in a state that allows the change."""

    code = "conflict"


class InvalidInput(StoreError):
    """The values break a constraint or cannot be stored (NUL bytes, bad JSON, bad cursor)."""

    code = "invalid_input"


# SQLSTATE -> named error and what it means, in our words. Class 22 (data exception) is
# InvalidInput as a whole; the codes listed get a more precise sentence.
_BY_SQLSTATE: dict[str, tuple[type[StoreError], str]] = {
    "23503": (NotFound, "it refers to something that does not exist"),  # foreign key
    "23505": (Conflict, "it exists already"),  # unique_violation
    "23P01": (Conflict, "it overlaps one that exists already"),  # exclusion_violation
    "23502": (InvalidInput, "a required value is missing"),  # not_null_violation
    "23514": (InvalidInput, "a value is not allowed"),  # check_violation
    "22000": (InvalidInput, "a value is out of range, or not of the expected type"),  # asyncpg
    "22001": (InvalidInput, "a value is too long"),
    "22003": (InvalidInput, "a number is out of range"),
    "22007": (InvalidInput, "a date or time is not valid"),
    "22008": (InvalidInput, "a date or time is out of range"),
    "22021": (InvalidInput, "a text contains a character that cannot be stored (such as NUL)"),
    "22P02": (InvalidInput, "a value does not have the expected form"),
    "22P05": (InvalidInput, "a text contains a character that cannot be stored (such as NUL)"),
}
_DATA_EXCEPTION = (InvalidInput, "a value cannot be stored")


def _named(error: asyncpg.PostgresError) -> tuple[type[StoreError], str] | None:
    named = _BY_SQLSTATE.get(error.sqlstate)
    if named is None and error.sqlstate.startswith("22"):
        return _DATA_EXCEPTION
    return named


def _which(error: asyncpg.PostgresError) -> str:
    """The rule or column the error is about, by its name in our schema, when PostgreSQL
    says: ``users_email_key``, ``chat_sessions.title``."""
    if error.constraint_name:
        return f" ({error.constraint_name})"
    if error.column_name:
        table = f"{error.table_name}." if error.table_name else ""
        return f" ({table}{error.column_name})"
    return ""


class _MappedErrors:
    """``mapped_errors``: a class, not a generator, as it wraps every statement (a third of
    the cost)."""

    def __enter__(self) -> None:
        return None

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if not isinstance(error, asyncpg.PostgresError):
            return
        named = _named(error)
        if named is None:
            return
        mapped, meaning = named
        raise mapped(f"{meaning}{_which(error)}") from error


_MAPPED_ERRORS = _MappedErrors()


def mapped_errors() -> _MappedErrors:
    """Re-raise PostgreSQL errors the caller can act on as NotFound, Conflict or InvalidInput,
    with a message of our own; the PostgreSQL error is kept as the cause."""
    return _MAPPED_ERRORS
