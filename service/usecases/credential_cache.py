"""Who a token names, remembered for a few seconds: most requests then run one statement (their
own), not two (the credential check first).

A cached answer is dropped when its credential is revoked (or its user deleted) in any
process, as soon as the revocation feed (``store.RevocationFeed``) delivers it; when the
feed is down, nothing is cached and what was is forgotten, since revocations in the gap
would be missed. Whatever happens to the feed, no answer outlives ``ttl_seconds`` or its
credential's expiry. Only valid credentials are cached: an unknown token costs a query
each time, and cannot fill the cache.
"""

from __future__ import annotations

import datetime
import hashlib
import time
import uuid
from collections import OrderedDict

import msgspec

from .. import store

__all__ = ["CachedCredential", "CredentialCache"]


class CachedCredential(msgspec.Struct, frozen=True):
    user_id: uuid.UUID
    credential_id: uuid.UUID | None  # None for a sign-in token (a JWT): it has no row
    until: float  # time.monotonic() after which the database is asked again


class CredentialCache:
    def __init__(self, *, ttl_seconds: float, max_entries: int) -> None:
        self._ttl = ttl_seconds
        self._max = max_entries
        self._entries: OrderedDict[bytes, CachedCredential] = OrderedDict()
        self._listening = False
        # Bumped by every revocation and feed change: an answer the database gave before
        # one of those is not cached (it may be the credential just revoked).
        self.generation = 0

    @property
    def active(self) -> bool:
        return self._listening and self._ttl > 0

    def get(self, token: str) -> CachedCredential | None:
        if not self._entries:
            return None
        key = _key(token)
        entry = self._entries.get(key)
        if entry is None:
            return None
        if entry.until <= time.monotonic():
            del self._entries[key]
            return None
        self._entries.move_to_end(key)
        return entry

    def put(self, token: str, credential: store.UserCredential, *, generation: int) -> None:
        """Remember what the database said, unless something was revoked since it was asked
        (``generation`` as read before asking) or the feed is down."""
        left = (credential.expires_at - datetime.datetime.now(datetime.UTC)).total_seconds()
        self._remember(token, credential.user_id, credential.id, left, generation)

    def put_signed_in(
        self, token: str, user_id: uuid.UUID, *, expires_at: float, generation: int
    ) -> None:
        """Remember the user a verified sign-in token named (``expires_at``: its exp, in Unix
        time), as ``put`` does: dropped with the user, never kept past the token's expiry."""
        self._remember(token, user_id, None, expires_at - time.time(), generation)

    def _remember(
        self,
        token: str,
        user_id: uuid.UUID,
        credential_id: uuid.UUID | None,
        left: float,
        generation: int,
    ) -> None:
        if not self.active or generation != self.generation or left <= 0:
            return
        until = time.monotonic() + min(self._ttl, left)
        self._entries[_key(token)] = CachedCredential(user_id, credential_id, until)
        if len(self._entries) > self._max:
            self._entries.popitem(last=False)

    def revoked(self, revoked: store.Revoked) -> None:
        self.generation += 1
        if revoked.credential_id is None and revoked.user_id is None:
            return
        gone = [
            key
            for key, entry in self._entries.items()
            if entry.user_id == revoked.user_id
            or (entry.credential_id is not None and entry.credential_id == revoked.credential_id)
        ]
        for key in gone:
            del self._entries[key]

    def listening(self, listening: bool) -> None:
        """The feed's state: caching only while it listens, from an empty cache."""
        self.generation += 1
        self._listening = listening
        self._entries.clear()


def _key(token: str) -> bytes:
    # The hash, not the token: the cache holds no credential that could be read back.
    return hashlib.sha256(token.encode()).digest()
