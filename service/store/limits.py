"""Rate-limit counters: fixed windows in PostgreSQL, so every replica counts into the same row."""

from __future__ import annotations

import msgspec

from generated import limits

from .tx import Db, exec_statement

__all__ = ["RateCount", "hit_rate_limit", "purge_expired_rate_limits"]


class RateCount(msgspec.Struct, frozen=True):
    admitted: bool  # False: over the limit, and nothing was counted
    count: int | None  # the window's count after this hit (None when not admitted)
    retry_after_seconds: int  # until the current window ends (at least 1)


async def hit_rate_limit(
    db: Db, bucket: str, key: str, *, cost: int, max_count: int, window_seconds: int
) -> RateCount:
    """Count ``cost`` against ``key``'s limit of ``max_count`` per ``window_seconds`` in
    ``bucket``, unless that would exceed it. One statement; retried after a lost connection
    like every other, so a hit whose answer was lost may be counted twice (never less)."""
    row = await exec_statement(
        db,
        lambda conn: limits.hit_rate_limit(
            conn,
            window_seconds=window_seconds,
            bucket=bucket,
            key=key,
            cost=cost,
            max_count=max_count,
        ),
    )
    assert row is not None  # the statement always selects the current window's row
    return RateCount(row.count is not None, row.count, max(1, row.retry_after_seconds))


async def purge_expired_rate_limits(db: Db, *, max_rows: int) -> int:
    """Delete up to ``max_rows`` counters of windows that have ended; how many were deleted."""
    return await exec_statement(
        db, lambda conn: limits.purge_expired_rate_limits(conn, max_rows=max_rows)
    )
