"""Profiles: who a user is (their external identities) and how much they hold."""

from __future__ import annotations

import datetime
import uuid

import msgspec

from generated import models, profiles

from .errors import NotFound
from .tx import Connection, Db, exec_tx

__all__ = ["UserProfile", "user_profile"]


class UserProfile(msgspec.Struct, frozen=True, kw_only=True):
    user_id: uuid.UUID
    anonymous: bool
    created_at: datetime.datetime
    identities: list[models.UserIdentity]  # the most recently updated first
    sessions: int
    messages: int
    documents: int  # private ones; the shared corpus is no one's


async def user_profile(db: Db, user_id: uuid.UUID) -> UserProfile:
    """The user's profile; NotFound when the user is gone."""

    async def work(conn: Connection) -> UserProfile:
        row = await profiles.get_user_profile(conn, user_id=user_id)
        if row is None:
            raise NotFound("user not found")
        identities = await profiles.list_user_identities(conn, user_id=user_id)
        return UserProfile(
            user_id=row.id,
            anonymous=row.is_anonymous,
            created_at=row.created_at,
            identities=identities,
            sessions=row.session_count,
            messages=row.message_count,
            documents=row.document_count,
        )

    return await exec_tx(db, work)
