"""Abuse limits: new anonymous users per client address; chat turns and uploads per user.

Counters live in PostgreSQL (``store.hit_rate_limit``), in fixed windows aligned to the
epoch, so every replica counts into the same row and a limit holds across replicas. Only
what is admitted is counted: a refused request does not push its window's end further away.
When the database cannot be reached the request is let through: it can store nothing then
anyway (``/chat`` answers unsaved), and a limit must not turn an outage into 429s.
"""

from __future__ import annotations

import ipaddress
import logging
import time
import uuid

import msgspec

from .. import store
from ..settings import Settings

__all__ = ["Limits", "Quota", "RateLimited"]

log = logging.getLogger("service.limits")

MINUTE, HOUR, DAY = 60, 3_600, 86_400
PURGE_EVERY = 60.0  # seconds between two purges of ended windows, per process
PURGE_BATCH = 10_000  # counters deleted per purge statement, at most


class Quota(msgspec.Struct, frozen=True):
    """At most ``limit`` (requests, or bytes) per ``window_seconds`` in ``bucket``; 0: none."""

    bucket: str
    limit: int
    window_seconds: int
    what: str  # "new anonymous users from one address", said in the 429's message


class RateLimited(Exception):
    """A quota is used up until its window ends, ``retry_after`` seconds from now."""

    def __init__(self, quota: Quota, retry_after: int) -> None:
        super().__init__(
            f"too many {quota.what}: the limit is {quota.limit} per {_window(quota)}; "
            f"retry in {retry_after} seconds"
        )
        self.quota = quota
        self.retry_after = retry_after


class Limits:
    def __init__(self, db: store.Pool, settings: Settings) -> None:
        self._db = db
        self.anonymous_users = Quota(
            "anonymous_users",
            settings.anon_users_per_address_per_hour,
            HOUR,
            "new anonymous users from one address",
        )
        self.chat_turns = Quota(
            "chat_turns", settings.chat_turns_per_user_per_minute, MINUTE, "chat turns"
        )
        self.uploads = Quota("uploads", settings.uploads_per_user_per_day, DAY, "uploads")
        self.upload_bytes = Quota(
            "upload_bytes", settings.upload_bytes_per_user_per_day, DAY, "bytes uploaded"
        )
        self._next_purge = 0.0

    async def new_anonymous_user(self, address: str | None) -> None:
        """Admit one more anonymous user from this client address, or raise RateLimited.

        IPv6 clients are counted per /64 network: one host usually holds a whole one."""
        await self._hit(self.anonymous_users, address_key(address))

    async def chat_turn(self, user_id: uuid.UUID) -> None:
        """Admit one more chat turn of this user, or raise RateLimited."""
        await self._hit(self.chat_turns, str(user_id))

    async def upload(self, user_id: uuid.UUID, size: int) -> None:
        """Admit one more upload of ``size`` bytes by this user, or raise RateLimited.

        Bytes first: when the count is then refused, the bytes stay counted, but both
        windows end together and the user can upload nothing until then anyway."""
        if size > 0:
            await self._hit(self.upload_bytes, str(user_id), cost=size)
        await self._hit(self.uploads, str(user_id))

    async def purge_expired(self) -> int:
        """Delete the counters of ended windows (a batch at most); how many were deleted."""
        return await store.purge_expired_rate_limits(self._db, max_rows=PURGE_BATCH)

    async def _hit(self, quota: Quota, key: str, *, cost: int = 1) -> None:
        if quota.limit == 0:
            return
        try:
            hit = await store.hit_rate_limit(
                self._db,
                quota.bucket,
                key,
                cost=cost,
                max_count=quota.limit,
                window_seconds=quota.window_seconds,
            )
        except store.UNAVAILABLE as error:
            log.warning("rate limit %s not checked: %s", quota.bucket, type(error).__name__)
            return
        if not hit.admitted:
            raise RateLimited(quota, hit.retry_after_seconds)
        await self._purge_now_and_then()

    async def _purge_now_and_then(self) -> None:
        """Purge ended windows at most every PURGE_EVERY seconds in this process: one bounded
        statement over the expires_at index, so no request waits long for it."""
        now = time.monotonic()
        if now < self._next_purge:
            return
        self._next_purge = now + PURGE_EVERY
        try:
            await self.purge_expired()
        except store.UNAVAILABLE as error:
            log.warning("rate limits not purged: %s", type(error).__name__)


def address_key(address: str | None) -> str:
    """What a client address is counted as: the address, an IPv6 one as its /64 network."""
    if not address:
        return "unknown"
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return address  # not an IP address (a test client, a Unix socket peer)
    if isinstance(parsed, ipaddress.IPv6Address):
        if parsed.ipv4_mapped is not None:
            return str(parsed.ipv4_mapped)
        return str(ipaddress.IPv6Network((parsed, 64), strict=False))
    return str(parsed)


def _window(quota: Quota) -> str:
    names = {MINUTE: "minute", HOUR: "hour", DAY: "day"}
    return names.get(quota.window_seconds, f"{quota.window_seconds} seconds")
