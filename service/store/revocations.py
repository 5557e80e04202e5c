"""Revocations as they happen: a connection of its own LISTENs on the channel the revoking
statements notify (``RevokeCredential``, ``DeleteUser`` in queries/), so that a process
caching credentials drops a revoked one at once, whichever process revoked it.

PostgreSQL delivers a notification when the revoking transaction commits, to every session
listening at that moment: what happens while this connection is down is missed. The feed
says when it starts and stops listening, so the cache can empty itself and stop caching
for the gap. A connection that went silent (a frozen server, a lost route) is found by a
ping every ``ping_seconds``. Behind a pooler in transaction mode LISTEN cannot work
(the server connection is handed to other clients between statements).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Callable
from typing import Any

import asyncpg
import msgspec

from .errors import UNAVAILABLE

__all__ = ["CHANNEL", "RevocationFeed", "Revoked"]

log = logging.getLogger("service.store")

CHANNEL = "credential_revoked"
# How the feed's connection fails: it is opened again after a pause.
_LOST: tuple[type[Exception], ...] = (*UNAVAILABLE, asyncpg.PostgresError, asyncpg.InterfaceError)


class Revoked(msgspec.Struct, frozen=True):
    """One credential revoked (``credential_id``), or every credential of a deleted user."""

    credential_id: uuid.UUID | None = None
    user_id: uuid.UUID | None = None


def parse(payload: str) -> Revoked | None:
    """A notification's payload: a credential id, or ``user:`` and a user id."""
    kind, _, value = payload.rpartition(":")
    try:
        if kind == "user":
            return Revoked(user_id=uuid.UUID(value))
        if kind == "":
            return Revoked(credential_id=uuid.UUID(value))
    except ValueError:
        pass
    log.warning("ignored a %s notification it cannot read: %r", CHANNEL, payload[:100])
    return None


class RevocationFeed:
    def __init__(
        self,
        url: str,
        *,
        connect_timeout: float,
        ping_seconds: float = 5.0,
        retry_seconds: float = 1.0,
    ) -> None:
        self._url = url
        self._connect_timeout = connect_timeout
        self._ping_seconds = ping_seconds
        self._retry_seconds = retry_seconds

    async def run_forever(
        self, on_revoked: Callable[[Revoked], None], on_listening: Callable[[bool], None]
    ) -> None:
        """Listen, reconnecting after a loss; ``on_listening(True)`` once each connection
        listens, ``on_listening(False)`` when it is lost (and when this task ends)."""
        try:
            while True:
                try:
                    await self._listen_once(on_revoked, on_listening)
                except _LOST as error:
                    log.warning("revocation feed lost: %s", type(error).__name__)
                finally:
                    on_listening(False)
                await asyncio.sleep(self._retry_seconds)
        finally:
            on_listening(False)

    async def _listen_once(
        self, on_revoked: Callable[[Revoked], None], on_listening: Callable[[bool], None]
    ) -> None:
        """One connection's life: LISTEN, deliver, ping; returns when the connection is lost."""
        conn: asyncpg.Connection[Any] = await asyncpg.connect(
            self._url, timeout=self._connect_timeout, statement_cache_size=0
        )
        lost = asyncio.Event()

        def deliver(_conn: Any, _pid: int, _channel: str, payload: object) -> None:
            revoked = parse(str(payload))
            if revoked is not None:
                on_revoked(revoked)

        try:
            conn.add_termination_listener(lambda _conn: lost.set())
            await conn.add_listener(CHANNEL, deliver)
            on_listening(True)
            while not conn.is_closed():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(lost.wait(), self._ping_seconds)
                if lost.is_set():
                    return
                await conn.execute("SELECT 1", timeout=self._connect_timeout)
        finally:
            conn.terminate()
