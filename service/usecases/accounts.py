"""Accounts: who a credential names, anonymous users with their first credential, signing out.

Credentials are opaque random tokens stored only as hashes (``store.credentials``). How a
token travels (header, cookie) is the HTTP layer's business, not this module's.
"""

from __future__ import annotations

import datetime
import uuid

import msgspec

from .. import store
from ..settings import Settings
from .credential_cache import CredentialCache

__all__ = ["Accounts", "InvalidCredential", "NewUser", "Principal", "Unidentified"]


class Principal(msgspec.Struct, frozen=True):
    user_id: uuid.UUID
    credential_id: uuid.UUID | None  # None when the identity has no revocable credential


class Unidentified(msgspec.Struct, frozen=True):
    """A credential was presented but could not be checked: the database is unreachable."""


class NewUser(msgspec.Struct, frozen=True):
    principal: Principal
    token: str  # shown to the client once


class InvalidCredential(Exception):
    """A credential was presented and names no one: malformed, unknown, expired or revoked."""


class Accounts:
    def __init__(
        self, db: store.Pool, settings: Settings, *, cache: CredentialCache | None = None
    ) -> None:
        """``cache``: who tokens name, kept current by a revocation feed the caller runs
        (``store.RevocationFeed``); without one every request asks the database."""
        self._db = db
        self.ttl = datetime.timedelta(days=settings.token_ttl_days)
        self._cache = cache

    async def authenticate(self, token: str) -> Principal:
        """The owner of a token; InvalidCredential when it names no one."""
        # Tokens we issue are 43 URL-safe characters; anything far off is not worth a query.
        if len(token) > 200 or not token.isascii():
            raise InvalidCredential("the credential is not valid")
        cache = self._cache
        if cache is not None:
            cached = cache.get(token)
            if cached is not None:
                return Principal(cached.user_id, cached.credential_id)
            generation = cache.generation
        credential = await store.lookup_credential(self._db, token)
        if credential is None:
            raise InvalidCredential("the credential is not valid, has expired or was revoked")
        if cache is not None:
            cache.put(token, credential, generation=generation)
        return Principal(credential.user_id, credential.id)

    async def forwarded(
        self, issuer: str, subject: str, *, email: str | None, name: str | None
    ) -> Principal:
        """The user a trusted front end acts for: known by its id there, made the first time."""
        user_id = await store.identified_user(self._db, issuer, subject, email=email, name=name)
        return Principal(user_id, None)

    async def create_anonymous(self, *, request_id: str | None) -> NewUser:
        """A new anonymous user and the credential that identifies them from now on."""
        issued = await store.create_anonymous_account(self._db, ttl=self.ttl, request_id=request_id)
        credential = issued.credential
        return NewUser(Principal(credential.user_id, credential.id), issued.token)

    async def sign_out(self, principal: Principal, *, request_id: str | None) -> None:
        """Revoke the credential the caller presented (nothing to do without one)."""
        if principal.credential_id is not None:
            await store.revoke_credential(
                self._db, principal.user_id, principal.credential_id, request_id=request_id
            )
            if self._cache is not None:  # here at once; elsewhere when the feed delivers it
                self._cache.revoked(store.Revoked(credential_id=principal.credential_id))
