"""The store's named errors, and the one place PostgreSQL errors become them."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import ClassVar

import asyncpg

__all__ = ["UNAVAILABLE", "Conflict", "InvalidInput", "NotFound", "StoreError", "mapped_errors"]

# "PostgreSQL cannot be reached right now": the one classification. The store retries these
# (tx.RETRYABLE); once its retries are spent, callers answer 503 or carry on without the
# database. OSError covers refused and reset sockets and TimeoutError.
UNAVAILABLE: tuple[type[Exception], ...] = (
    asyncpg.PostgresConnectionError,  # class 08 and lost connections
    asyncpg.CannotConnectNowError,  # 57P03: the server is starting
    asyncpg.AdminShutdownError,  # 57P01: the server is restarting
    asyncpg.TooManyConnectionsError,  # 53300
    OSError,
)


class StoreError(Exception):
    """An expected failure of a store operation; ``code`` names it for the HTTP layer."""

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


# SQLSTATE -> named error. Class 22 (data exception: 22P02 bad text representation,
# 22001 string too long, 22021 NUL byte, ...) is InvalidInput as a whole.
_BY_SQLSTATE: dict[str, type[StoreError]] = {
    "23503": NotFound,  # foreign_key_violation: the referenced row is not there (for this user)
    "23505": Conflict,  # unique_violation
    "23P01": Conflict,  # exclusion_violation
    "23502": InvalidInput,  # not_null_violation
    "23514": InvalidInput,  # check_violation
}


def _named(error: asyncpg.PostgresError) -> type[StoreError] | None:
    if error.sqlstate.startswith("22"):
        return InvalidInput
    return _BY_SQLSTATE.get(error.sqlstate)


@contextmanager
def mapped_errors() -> Iterator[None]:
    """Re-raise PostgreSQL errors the caller can act on as NotFound, Conflict or InvalidInput."""
    try:
        yield
    except asyncpg.PostgresError as error:
        named = _named(error)
        if named is None:
            raise
        detail = f" ({error.constraint_name})" if error.constraint_name else ""
        # Errors raised by asyncpg itself (a value it cannot encode) carry no .message.
        message = error.message or str(error)
        raise named(f"{message}{detail}") from error
