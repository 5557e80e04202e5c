"""Accounts: who a credential names, anonymous users with their first credential, signing out.

Credentials are opaque random tokens stored only as hashes (``store.credentials``). How a
token travels (header, cookie) is the HTTP layer's business, not this module's.

Legacy chat widgets that never hold a credential (LEGACY_TOKENLESS_SESSIONS, off by default)
are served by their session key instead: a key long enough not to be guessed
(LEGACY_TOKENLESS_MIN_KEY_CHARS), and not a UUID, stands for an anonymous user of its own,
whose id is derived from the key (``key_holder``); that user's session with the key is the
one the key continues. Whoever knows the key holds that conversation.

A sign-in token (a JWT from JWT_ISSUER, ``jwt_tokens``) names a user by issuer and subject,
made on first sign-in (``sign_in``). Presented with an anonymous user's credential, it claims
that user's history (``claim``): moved to the signed-in user, the anonymous user deleted.
"""

from __future__ import annotations

import datetime
import uuid
from collections.abc import Awaitable, Callable

import msgspec

from .. import store
from ..settings import Settings
from .credential_cache import CredentialCache
from .jwt_tokens import InvalidToken, JwtVerifier
from .session_names import session_uuid

__all__ = [
    "Accounts",
    "InvalidCredential",
    "KeyRefused",
    "NewUser",
    "Principal",
    "Unidentified",
]

# The ids of the users legacy session keys stand for: uuid5 of this namespace and the key.
KEY_HOLDERS = uuid.UUID("0d6f3b1e-54a2-4c8e-9a71-2f5e8c4b7d90")


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


class KeyRefused(Exception):
    """A session key sent without a credential cannot stand for one (LEGACY_TOKENLESS_SESSIONS
    is on, but the key is too short, or a UUID)."""


class Accounts:
    def __init__(
        self,
        db: store.Pool,
        settings: Settings,
        *,
        cache: CredentialCache | None = None,
        tokens: JwtVerifier | None = None,
        claimed: Callable[[], None] | None = None,
    ) -> None:
        """``cache``: who tokens name, kept current by a revocation feed the caller runs
        (``store.RevocationFeed``); without one every request asks the database.
        ``tokens``: sign-in tokens are accepted (JWT_JWKS_URL). ``claimed``: called after a
        claim moved documents, whose vector points are then synced (``point_owners``)."""
        self._db = db
        self.tokens = tokens
        self._claimed = claimed
        self.ttl = datetime.timedelta(days=settings.token_ttl_days)
        self._cache = cache
        self._key_min_chars = (
            settings.legacy_tokenless_min_key_chars if settings.legacy_tokenless_sessions else None
        )

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

    async def sign_in(self, token: str, *, request_id: str | None) -> Principal:
        """The user a sign-in token names, made on first sign-in, its email and name kept as
        the token says; InvalidCredential when the token is not valid, and
        jwt_tokens.KeysUnavailable when the issuer's keys cannot be had."""
        if self.tokens is None:
            raise InvalidCredential("sign-in tokens are not accepted here (no JWT_JWKS_URL)")
        # A token seen lately was verified then, and its email and name kept: the request
        # runs its own statement only, as with an opaque token.
        cache = self._cache
        if cache is not None:
            cached = cache.get(token)
            if cached is not None:
                return Principal(cached.user_id, None)
            generation = cache.generation
        try:
            verified = await self.tokens.verify(token)
        except InvalidToken as error:
            raise InvalidCredential(str(error)) from None
        user_id = await store.identified_user(
            self._db,
            verified.issuer,
            verified.subject,
            email=verified.email,
            name=verified.name,
            request_id=request_id,
        )
        if cache is not None:
            cache.put_signed_in(
                token, user_id, expires_at=verified.expires_at, generation=generation
            )
        return Principal(user_id, None)

    async def claim(
        self, principal: Principal, anonymous_token: str, *, request_id: str | None
    ) -> store.ClaimedHistory | None:
        """Move the history of the anonymous user ``anonymous_token`` names to the signed-in
        ``principal``; None when there is nothing to claim (the token names no one, any more:
        a claim done already is not done twice). store.NotClaimable when the token's user is
        not anonymous."""
        try:
            anonymous = await self.authenticate(anonymous_token)
        except InvalidCredential:
            return None
        if anonymous.credential_id is None or anonymous.user_id == principal.user_id:
            return None
        claimed = await store.claim_history(
            self._db,
            to_user_id=principal.user_id,
            from_user_id=anonymous.user_id,
            credential_id=anonymous.credential_id,
            request_id=request_id,
        )
        if claimed is not None:
            if self._cache is not None:  # here at once; elsewhere when the feed delivers it
                self._cache.revoked(store.Revoked(user_id=claimed.from_user_id))
            if self._claimed is not None and claimed.documents + claimed.duplicate_documents:
                self._claimed()
        return claimed

    async def forwarded(
        self, issuer: str, subject: str, *, email: str | None, name: str | None
    ) -> Principal:
        """The user a trusted front end acts for: known by its id there, made the first time."""
        user_id = await store.identified_user(self._db, issuer, subject, email=email, name=name)
        return Principal(user_id, None)

    async def key_holder(
        self,
        key: str,
        *,
        admit: Callable[[], Awaitable[None]] | None,
        request_id: str | None = None,
    ) -> Principal | None:
        """The anonymous user a legacy session key sent without a credential stands for; None
        when tokenless sessions are off, KeyRefused when the key cannot stand for one (shorter
        than LEGACY_TOKENLESS_MIN_KEY_CHARS, or a UUID: session ids always need a credential).

        With ``admit`` (a chat turn), the user is started the first time, ``admit`` called
        before that (the limit on new anonymous users); without (a read), nothing is stored.
        """
        if self._key_min_chars is None:
            return None
        if session_uuid(key) is not None:
            raise KeyRefused(
                "a session id (a UUID) is continued only with its user's credential; "
                "send 'Authorization: Bearer <token>'"
            )
        if len(key) < self._key_min_chars:
            raise KeyRefused(
                f"a session key sent without a credential must be at least "
                f"{self._key_min_chars} characters, so that it cannot be guessed; send a longer "
                "key, or 'Authorization: Bearer <token>'"
            )
        user_id = uuid.uuid5(KEY_HOLDERS, key)
        if admit is not None and not await store.user_exists(self._db, user_id):
            await admit()
            await store.ensure_anonymous_user(self._db, user_id, request_id=request_id)
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
